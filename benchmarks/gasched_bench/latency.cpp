// Latency: sequential round trips of one task, beside CAF's own.
#include "scenarios.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <thread>

#include "wire.hpp"

namespace gasched::bench {

namespace {

enum class probe { task, caf, both };

// From an event-based client: await, result, next; with probe::both a bare
// request to the node follows each task. 100 warm-up rounds first.
std::pair<std::vector<double>, std::vector<double>>
run(caf::actor_system& sys, const options& opts, size_t n, probe what) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, nullptr);
  auto node = c.nodes().front();
  auto tasks = std::make_shared<std::vector<double>>();
  auto floor = std::make_shared<std::vector<double>>();
  auto client = sys.spawn([=](caf::event_based_actor* self) {
    auto next = std::make_shared<std::function<void(int32_t, bool)>>();
    *next = [=](int32_t i, bool bare) {
      if (static_cast<size_t>(i) == n) {
        self->quit();
        return;
      }
      auto t0 = clock_type::now();
      auto record = [=](std::vector<double>& into) {
        into.push_back(
          std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        if (what == probe::both && !bare)
          (*next)(i, true);
        else
          (*next)(i + 1, what == probe::caf);
      };
      if (bare) {
        self->request(node, 10s, hello_atom::value)
          .then([=](detail::node_info&) { record(*floor); },
                [=](caf::error&) { self->quit(); });
        return;
      }
      self
        ->request(sched, 10s, await_atom::value,
                  task{"test.identity", caf::make_message(i)})
        .then(
          [=](task_result&) { record(*tasks); },
          [=](caf::error&) { self->quit(); });
    };
    (*next)(-100, what == probe::caf);
  });
  c.self()->wait_for(client);
  auto check = [n](std::vector<double>& v) {
    v.erase(v.begin(), v.begin() + std::min<size_t>(100, v.size()));
    if (v.size() != n)
      throw std::runtime_error("latency: a round trip failed");
  };
  if (what != probe::caf)
    check(*tasks);
  if (what != probe::task)
    check(*floor);
  return {std::move(*tasks), std::move(*floor)};
}

// The floor under any remote round trip: `n` 64-byte pings to an echo
// thread over loopback TCP (TCP_NODELAY, blocking sockets), 100 warm-up rounds.
std::vector<double> loopback_tcp(size_t n) {
  auto fail = [](const char* what) { throw std::runtime_error(std::string{"loopback: "} + what); };
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || listen(listener, 1) != 0
      || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail("cannot listen");
  int one = 1;
  std::thread echo{[listener, one] {
    int fd = accept(listener, nullptr, nullptr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char buf[64];
    for (;;) {
      size_t got = 0;
      while (got < sizeof(buf)) {
        auto r = read(fd, buf + got, sizeof(buf) - got);
        if (r <= 0) {
          close(fd);
          return;
        }
        got += static_cast<size_t>(r);
      }
      if (write(fd, buf, sizeof(buf)) != static_cast<ssize_t>(sizeof(buf))) {
        close(fd);
        return;
      }
    }
  }};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0)
    fail("cannot connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<double> result;
  char buf[64] = {};
  for (size_t i = 0; i < n + 100; ++i) {
    auto t0 = clock_type::now();
    bool ok = write(fd, buf, sizeof(buf)) == static_cast<ssize_t>(sizeof(buf));
    size_t got = 0;
    while (ok && got < sizeof(buf)) {
      auto r = read(fd, buf + got, sizeof(buf) - got);
      ok = r > 0;
      got += ok ? static_cast<size_t>(r) : 0;
    }
    if (!ok)
      break;
    if (i >= 100)
      result.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  close(fd);
  echo.join();
  close(listener);
  if (result.size() != n)
    fail("a round trip failed");
  return result;
}

} // namespace

std::vector<double> latency_run(caf::actor_system& sys, const options& opts, size_t n,
                                bool caf_floor) {
  auto r = run(sys, opts, n, caf_floor ? probe::caf : probe::task);
  return caf_floor ? std::move(r.second) : std::move(r.first);
}

std::pair<std::vector<double>, std::vector<double>>
latency_pairs(caf::actor_system& sys, const options& opts, size_t n) {
  return run(sys, opts, n, probe::both);
}

void latency(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 100 : 2000;
  std::vector<std::vector<double>> all;
  figure floor{"latency", "CAF's own remote request/response p50 (the floor)", "us", {},
               "", "hello to a node actor, same processes"};
  figure tcp{"latency", "loopback TCP round trip p50 (the floor under any remote one)", "us",
             {}, "", "64 bytes to an echo thread, TCP_NODELAY"};
  for (int i = 0; i < c.runs; ++i) {
    all.push_back(latency_run(c.sys, c.opts, n));
    floor.runs.push_back(percentile(latency_run(c.sys, c.opts, n, true), 0.5));
    tcp.runs.push_back(percentile(loopback_tcp(n), 0.5));
  }
  figure p50{"latency", "round trip p50, " + std::to_string(n) + " sequential", "us",
             {}, "104", ""};
  figure p99{"latency", "round trip p99", "us", {}, "178", ""};
  figure max{"latency", "round trip max", "us", {}, "up to 4,300", ""};
  for (auto& s : all) {
    p50.runs.push_back(percentile(s, 0.5));
    p99.runs.push_back(percentile(s, 0.99));
    max.runs.push_back(*std::max_element(s.begin(), s.end()));
  }
  // What gasched adds, from pairs of round trips a few hundred µs apart: load
  // from other processes falls on both of a pair alike, where separate runs
  // of a shared machine differ by 2x.
  figure gap{"latency", "round trip minus CAF's, median of interleaved pairs", "us", {}, "",
             "a task, then a hello to the node, and so on"};
  for (int i = 0; i < c.runs; ++i) {
    auto [tasks, bare] = latency_pairs(c.sys, c.opts, n);
    std::vector<double> diff(n);
    for (size_t k = 0; k < n; ++k)
      diff[k] = tasks[k] - bare[k];
    gap.runs.push_back(percentile(diff, 0.5));
  }
  for (auto* f : {&p50, &p99, &max, &floor, &tcp, &gap})
    c.add(*f);
}

} // namespace gasched::bench
