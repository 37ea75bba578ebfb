// gasched-prefetch-bench: the adaptive prefetch against fixed settings, in one
// run, in the shape of gasched-bench's throughput scenario: this process is
// the scheduler and the client; 2 gasched-test-node processes on 127.0.0.1
// run the tasks, 10 slots each.
//
//   gasched-prefetch-bench [--tasks 100000] [--long 1000] [--long-ms 2000]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "child_process.hpp"
#include "gasched/gasched.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using gasched::task;
using gasched::task_result;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::string node_program() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string path = n > 0 ? std::string(buf, static_cast<size_t>(n)) : ".";
  return path.substr(0, path.rfind('/')) + "/../apps/gasched-test-node";
}

// 2 node processes x 10 slots and one scheduler over them.
class cluster {
public:
  cluster(caf::actor_system& sys, uint32_t prefetch) : self_(sys) {
    for (int i = 1; i <= 2; ++i) {
      procs_.push_back(gasched::tools::start_node(
        node_program(), {"--port", "0", "--name", "node" + std::to_string(i), "--slots", "10"},
        20s));
      auto h = gasched::connect(sys, "127.0.0.1", procs_.back().port);
      if (!h)
        throw std::runtime_error(gasched::describe(h.error()));
      opts_.nodes.push_back(*h);
    }
    opts_.client = self_;
    opts_.prefetch = prefetch;
    opts_.max_retries = 3;
    opts_.retry_timeout = 0s;
    auto s = gasched::spawn_scheduler(sys, opts_);
    if (!s)
      throw std::runtime_error(gasched::describe(s.error()));
    sched_ = *s;
  }

  ~cluster() {
    self_->send_exit(sched_, caf::exit_reason::user_shutdown);
  }

  // Submits `ts` in one batch; f(result) per result; the seconds until the last.
  template <class F>
  double run(std::vector<task> ts, F&& f, caf::timespan timeout = 600s) {
    auto n = ts.size();
    size_t got = 0;
    bool timed_out = false;
    auto t0 = clock_type::now();
    self_->send(sched_, gasched::execute_atom::value, std::move(ts));
    self_->receive_while([&] { return got < n && !timed_out; })(
      [&](task_result& r) {
        f(r);
        ++got;
      },
      [](std::vector<gasched::task_id>&) {}, caf::after(timeout) >> [&] { timed_out = true; });
    if (timed_out)
      throw std::runtime_error("only " + std::to_string(got) + " results arrived");
    return seconds_since(t0);
  }

private:
  caf::scoped_actor self_;
  std::vector<gasched::tools::node_process> procs_;
  gasched::scheduler_options opts_;
  gasched::scheduler_actor sched_;
};

std::string label(uint32_t prefetch) {
  return prefetch == gasched::adaptive_prefetch ? "default (adaptive)"
                                                : "prefetch " + std::to_string(prefetch);
}

void identity(caf::actor_system& sys, size_t n, uint32_t prefetch) {
  cluster c{sys, prefetch};
  std::vector<task> ts;
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.identity", caf::make_message(static_cast<int32_t>(i))});
  auto s = c.run(std::move(ts), [](task_result&) {});
  std::printf("%zu identity tasks, %-20s %10.0f tasks/s\n", n, label(prefetch).c_str(),
              static_cast<double>(n) / s);
}

void five_ms(caf::actor_system& sys, size_t n, uint32_t prefetch) {
  cluster c{sys, prefetch};
  std::vector<task> ts(n, task{"test.sleep_timed", caf::make_message(int32_t{5})});
  double busy_us = 0;
  auto s = c.run(std::move(ts), [&](task_result& r) {
    if (r.ok())
      busy_us += static_cast<double>(r.value.get_as<int64_t>(0));
  });
  std::printf("%zu tasks of 5 ms, %-20s %6.1f %% of slot time in tasks\n", n,
              label(prefetch).c_str(), 100.0 * busy_us / 1e6 / (s * 20.0));
}

// Long and instant tasks of one function, interleaved: one long per
// `shorts / longs` instant ones. Ideal: the total work over 20 slots.
void mixed(caf::actor_system& sys, size_t longs, int32_t long_ms, size_t shorts,
           uint32_t prefetch) {
  cluster c{sys, prefetch};
  std::vector<task> ts;
  auto every = shorts / longs;
  for (size_t i = 0, l = 0; i < shorts; ++i) {
    if (i % every == 0 && l++ < longs)
      ts.push_back(task{"test.sleep_timed", caf::make_message(long_ms)});
    ts.push_back(task{"test.sleep_timed", caf::make_message(int32_t{0})});
  }
  auto s = c.run(std::move(ts), [](task_result&) {});
  auto ideal = static_cast<double>(longs) * long_ms / 1000.0 / 20.0;
  std::printf("%zu x %d ms + %zu x 0 ms, %-20s %7.2f s, ideal %.2f s, ratio %.3f\n", longs,
              long_ms, shorts, label(prefetch).c_str(), s, ideal, s / ideal);
}

} // namespace

int main(int argc, char** argv) {
  size_t n = 100000;
  size_t longs = 1000;
  int32_t long_ms = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--tasks")
      n = std::stoul(argv[i + 1]);
    else if (a == "--long")
      longs = std::stoul(argv[i + 1]);
    else if (a == "--long-ms")
      long_ms = std::stoi(argv[i + 1]);
  }
  caf::actor_system_config cfg;
  gasched::init(cfg);
  caf::actor_system sys{cfg};
  try {
    for (auto p : {gasched::adaptive_prefetch, 0u, 10u})
      identity(sys, n, p);
    for (auto p : {gasched::adaptive_prefetch, 0u})
      five_ms(sys, 4000, p);
    mixed(sys, longs, long_ms, n, gasched::adaptive_prefetch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gasched-prefetch-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
