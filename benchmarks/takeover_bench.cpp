// How long a standby takes to replace the active scheduler on a shared
// PostgreSQL journal: from the fault (kill -9, or kill -STOP) of the active
// gasched-run --serve to the first task the new active got done, with two
// gasched-node processes that joined every scheduler (--join A,B). Each round
// the active is hit, the standby takes over, and the old one comes back as
// the standby of the next round. Prints the median and the maximum of each,
// and the command.
//
//   build/benchmarks/gasched-takeover-bench --pg-url URL [--rounds N]
//                                           [--lease-time DURATION]
//
// --pg-url: a database of its own (the journal's tables are made there);
// --rounds: takeovers of each kind (10); --lease-time: the schedulers' (1s).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "child_process.hpp"
#include "gasched/active_search.hpp"
#include "gasched/gasched.hpp"
#include "journal/pg_db.hpp"

using namespace std::chrono_literals;
using gasched::tools::child_process;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string pg_url;
  int rounds = 10;
  std::string lease_time = "1s";
};

uint16_t free_port() {
  // Bound to port 0 and closed: the port the kernel picked is free for a while.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct bench {
  options opts;
  caf::actor_system& sys;
  std::vector<std::string> addresses;
  std::vector<std::optional<child_process>> servers;
  std::vector<child_process> nodes;
  int32_t next_task = 0;

  std::optional<gasched::stats> stats_of(size_t i) {
    auto a = gasched::parse_address(addresses[i]);
    auto s = gasched::connect_scheduler(sys, a->host, a->port);
    if (!s)
      return std::nullopt;
    caf::scoped_actor self{sys};
    std::optional<gasched::stats> out;
    self->request(*s, 5s, gasched::stats_atom::value)
      .receive([&](gasched::stats& x) { out = std::move(x); }, [](caf::error&) {});
    return out;
  }

  // Starts scheduler i; returns once it answers in `role`.
  void serve(size_t i, const std::string& role) {
    servers[i].emplace(child_process::start(
      {GASCHED_RUN_PATH, "--listen", addresses[i], "--serve", "--nodes", "0", "--journal",
       opts.pg_url, "--lease-time", opts.lease_time, "--quiet"},
      true));
    if (!servers[i]->read_line(30s))
      throw std::runtime_error("gasched-run at " + addresses[i] + " did not start");
    auto deadline = clock_type::now() + 30s;
    for (;;) {
      auto s = stats_of(i);
      if (s && s->role == role && (role != "active" || s->worker_node_count == nodes.size()))
        return;
      if (clock_type::now() > deadline)
        throw std::runtime_error(addresses[i] + " never became " + role);
      std::this_thread::sleep_for(20ms);
    }
  }

  // From `fault` of the active to the first task the standby got done.
  double takeover(size_t active, int fault) {
    size_t standby = 1 - active;
    auto a = gasched::parse_address(addresses[standby]);
    auto handle = gasched::connect_scheduler(sys, a->host, a->port);
    if (!handle)
      throw std::runtime_error("cannot reach the standby");
    gasched::blocking_client client{sys, *handle, 5s, 20s};
    auto t0 = clock_type::now();
    ::kill(servers[active]->pid(), fault);
    for (;;) {
      auto r = client.await(gasched::task{"hello.world", caf::make_message(++next_task)});
      if (r && r->ok())
        break;
      if (clock_type::now() - t0 > 60s)
        throw std::runtime_error("no takeover within 60 s");
      std::this_thread::sleep_for(5ms);  // a standby still: ask again
    }
    auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    // The old active: dead, or woken to step down; it comes back as a standby.
    if (fault == SIGSTOP) {
      ::kill(servers[active]->pid(), SIGCONT);
      if (!servers[active]->wait_exit(30s))
        throw std::runtime_error("the old active did not step down");
    } else {
      servers[active]->kill();  // reaps it
    }
    servers[active].reset();
    serve(active, "standby");
    return ms;
  }
};

std::pair<double, double> median_max(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.back()};
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc)
        throw std::runtime_error(arg + " needs a value");
      return std::string{argv[++i]};
    };
    if (arg == "--pg-url")
      opts.pg_url = value();
    else if (arg == "--rounds")
      opts.rounds = std::stoi(value());
    else if (arg == "--lease-time")
      opts.lease_time = value();
    else {
      std::fprintf(stderr, "usage: gasched-takeover-bench --pg-url URL [--rounds N] "
                           "[--lease-time DURATION]\n");
      return 2;
    }
  }
  if (opts.pg_url.empty()) {
    std::fprintf(stderr, "gasched-takeover-bench: --pg-url URL is needed (a database of its "
                         "own)\n");
    return 2;
  }
  caf::actor_system_config cfg;
  if (auto err = gasched::init(cfg)) {
    std::fprintf(stderr, "%s\n", gasched::describe(err).c_str());
    return 1;
  }
  caf::actor_system sys{cfg};
  try {
    bench b{opts, sys, {}, {}, {}, 0};
    b.addresses = {"127.0.0.1:" + std::to_string(free_port()),
                   "127.0.0.1:" + std::to_string(free_port())};
    b.servers.resize(2);
    b.serve(0, "active");
    b.serve(1, "standby");
    for (auto name : {"n1", "n2"}) {
      b.nodes.push_back(child_process::start(
        {GASCHED_NODE_PATH, "--join", b.addresses[0] + "," + b.addresses[1], "--name", name,
         "--log", "off"},
        true));
      if (!b.nodes.back().read_line(20s))
        throw std::runtime_error("a node did not start");
    }
    size_t active = 0;
    std::vector<double> killed, stopped;
    for (int i = 0; i < opts.rounds; ++i) {
      killed.push_back(b.takeover(active, SIGKILL));
      active = 1 - active;
    }
    for (int i = 0; i < opts.rounds; ++i) {
      stopped.push_back(b.takeover(active, SIGSTOP));
      active = 1 - active;
    }
    auto [km, kx] = median_max(killed);
    auto [sm, sx] = median_max(stopped);
    std::printf("takeover on PostgreSQL (%s), 2 schedulers, 2 nodes, lease time %s, %d "
                "rounds each:\n",
                gasched::detail::redact_pg_url(opts.pg_url).c_str(), opts.lease_time.c_str(),
                opts.rounds);
    std::printf("  kill -9:    median %.0f ms, max %.0f ms (fault to the new active's first "
                "task done)\n",
                km, kx);
    std::printf("  kill -STOP: median %.0f ms, max %.0f ms\n", sm, sx);
    std::printf("command: gasched-takeover-bench --pg-url %s --rounds %d --lease-time %s\n",
                gasched::detail::redact_pg_url(opts.pg_url).c_str(), opts.rounds,
                opts.lease_time.c_str());
    for (auto& s : b.servers)
      if (s)
        s->signal(SIGTERM);
    for (auto& s : b.servers)
      if (s)
        s->wait_exit(30s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gasched-takeover-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
