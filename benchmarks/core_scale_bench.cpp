// The scheduling core at the size of a cluster of 10,000 machines: no actors,
// no network, only the decisions the scheduler's one thread makes per task.
//
//   gasched-core-scale-bench [--nodes 2,100,1000,10000] [--slots 8]
//                            [--pending 10000000] [--json]
//
// For each node count: enqueue --pending tasks, fill every slot (dispatch)
// and complete them, round after round for at least 100,000 tasks, then run
// the steady state of a busy cluster (a result comes in, its slot is
// refilled) for as many tasks as there are slots, twice over; then kill
// nodes one by one among the running tasks and time each requeue. Memory is
// the process's resident size, read from /proc after each step.
//
// Figures are nanoseconds per task (enqueue, dispatch, complete) and per node
// death; the same work at 2 and at 10,000 nodes shows whether the cost per
// task depends on the cluster's size.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <caf/make_message.hpp>

#include "core/scheduler_core.hpp"

using namespace gasched::detail;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  std::vector<uint32_t> nodes{2, 100, 1000, 10000};
  uint32_t slots = 8;
  uint64_t pending = 10'000'000;
  bool json = false;
};

// Resident memory of this process in bytes (VmRSS).
uint64_t rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoull(line.substr(6)) * 1024;
  return 0;
}

double ns_since(clock_type::time_point start, uint64_t n) {
  auto ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  return n == 0 ? 0.0 : ns / static_cast<double>(n);
}

struct figures {
  uint32_t nodes = 0;
  double enqueue_ns = 0, dispatch_ns = 0, complete_ns = 0, cycle_ns = 0;
  double pending_bytes = 0;  // resident bytes per pending task
  uint64_t rss_peak = 0;
  uint64_t running = 0;
  double death_ms_median = 0, death_ms_max = 0;
  uint64_t requeued_per_death = 0;
};

// Enqueues `n` one-int tasks. The messages are made in chunks outside the
// timing: the scheduler receives them already made.
double enqueue_all(scheduler_core& core, uint64_t n) {
  constexpr uint64_t chunk = 100'000;
  std::vector<caf::message> args;
  double total_ns = 0;
  int32_t value = 0;
  for (uint64_t done = 0; done < n;) {
    auto k = std::min(chunk, n - done);
    args.clear();
    for (uint64_t i = 0; i < k; ++i)
      args.push_back(caf::make_message(value++));
    auto start = clock_type::now();
    for (auto& m : args)
      if (!core.enqueue("test.identity", std::move(m), 0))
        throw std::runtime_error("enqueue refused");
    total_ns += ns_since(start, 1) ;
    done += k;
  }
  return total_ns / static_cast<double>(n);
}

struct lease {
  gasched::task_id id;
  uint32_t epoch;
  node_index node;
};

figures measure(uint32_t nodes, const settings& s) {
  figures f;
  f.nodes = nodes;
  core_limits limits{s.slots, 0, 3};
  scheduler_core core{limits};
  for (uint32_t n = 0; n < nodes; ++n)
    core.add_node(0);
  auto rss_before = rss_bytes();
  f.enqueue_ns = enqueue_all(core, s.pending);
  f.pending_bytes = static_cast<double>(rss_bytes() - std::min(rss_bytes(), rss_before))
                    / static_cast<double>(s.pending);

  std::vector<lease> running;
  running.reserve(uint64_t{nodes} * s.slots);
  auto record = [&](const dispatch_order& d) { running.push_back({d.id, d.epoch, d.node}); };
  // Completing every running task (each result frees a slot), then refilling.
  const caf::message value = caf::make_message(int32_t{0});
  const caf::error none;
  auto complete_all = [&](std::vector<lease>& batch) {
    for (auto& l : batch)
      if (!core.complete(l.id, l.epoch, l.node, value, none, run_timing{}))
        throw std::runtime_error("a result was not taken");
  };
  // Fill every slot, complete them all, fill again ..., until at least 100,000
  // tasks were dispatched: one fill of 2 nodes' 16 slots would time the first
  // call's fixed costs, not the cost per task.
  constexpr uint64_t timed_tasks = 100'000;
  double dispatch_total = 0, complete_total = 0;
  uint64_t dispatched = 0, completed = 0;
  std::vector<lease> batch;
  do {
    auto start = clock_type::now();
    core.dispatch(record);
    dispatch_total += ns_since(start, 1);
    dispatched += running.size();
    f.running = std::max<uint64_t>(f.running, running.size());
    if (dispatched >= timed_tasks || core.pending() == 0)
      break;
    batch.clear();
    batch.swap(running);
    start = clock_type::now();
    complete_all(batch);
    complete_total += ns_since(start, 1);
    completed += batch.size();
  } while (true);
  f.dispatch_ns = dispatch_total / static_cast<double>(dispatched);
  // The running tasks complete once more: at 10,000 nodes one fill exceeds the
  // timed tasks and nothing was completed yet.
  batch.clear();
  batch.swap(running);
  auto start = clock_type::now();
  complete_all(batch);
  complete_total += ns_since(start, 1);
  completed += batch.size();
  f.complete_ns = complete_total / static_cast<double>(completed);
  // The steady state: results and refills interleaved, one at a time, as
  // they come in a busy cluster.
  core.dispatch(record);
  // Twice round every slot, or until the pending tasks run out.
  const uint64_t slots_total = uint64_t{nodes} * s.slots;
  uint64_t cycles = 0;
  start = clock_type::now();
  for (; cycles < running.size() && cycles < 2 * slots_total; ++cycles) {
    auto l = running[cycles];
    core.complete(l.id, l.epoch, l.node, value, none, run_timing{});
    core.dispatch(record);
  }
  f.cycle_ns = ns_since(start, cycles);
  running.erase(running.begin(), running.begin() + static_cast<std::ptrdiff_t>(cycles));

  // Node deaths: each requeues that node's share at the front of pending.
  std::vector<double> deaths;
  for (uint32_t n = 0; n < std::min<uint32_t>(nodes, 20); ++n) {
    auto before = core.pending();
    start = clock_type::now();
    auto quarantined = core.remove_node(n);
    deaths.push_back(ns_since(start, 1) / 1e6);
    f.requeued_per_death = core.pending() - before + quarantined.size();
  }
  std::sort(deaths.begin(), deaths.end());
  f.death_ms_median = deaths[deaths.size() / 2];
  f.death_ms_max = deaths.back();
  f.rss_peak = rss_bytes();
  return f;
}

std::vector<uint32_t> parse_list(const std::string& text) {
  std::vector<uint32_t> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(static_cast<uint32_t>(std::stoul(item)));
  return out;
}

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--nodes")
      s.nodes = parse_list(value());
    else if (arg == "--slots")
      s.slots = static_cast<uint32_t>(std::stoul(value()));
    else if (arg == "--pending")
      s.pending = std::stoull(value());
    else if (arg == "--json")
      s.json = true;
    else
      throw std::invalid_argument("unknown option " + arg
                                  + " (--nodes LIST, --slots N, --pending N, --json)");
  }
  if (s.nodes.empty() || s.slots == 0 || s.pending == 0)
    throw std::invalid_argument("--nodes, --slots and --pending must be positive");
  return s;
}

void print_json(const std::vector<figures>& all) {
  std::printf("[");
  for (size_t i = 0; i < all.size(); ++i) {
    auto& f = all[i];
    std::printf("%s{\"nodes\":%u,\"running\":%llu,\"enqueue_ns\":%.1f,\"dispatch_ns\":%.1f,"
                "\"complete_ns\":%.1f,\"cycle_ns\":%.1f,\"pending_bytes\":%.1f,"
                "\"rss_peak\":%llu,\"death_ms_median\":%.3f,\"death_ms_max\":%.3f,"
                "\"requeued_per_death\":%llu}",
                i ? "," : "", f.nodes, static_cast<unsigned long long>(f.running),
                f.enqueue_ns, f.dispatch_ns, f.complete_ns, f.cycle_ns, f.pending_bytes,
                static_cast<unsigned long long>(f.rss_peak), f.death_ms_median, f.death_ms_max,
                static_cast<unsigned long long>(f.requeued_per_death));
  }
  std::printf("]\n");
}

void print_table(const std::vector<figures>& all, const settings& s) {
  std::printf("%8s %9s %11s %12s %12s %12s %11s %10s %14s\n", "nodes", "running",
              "enqueue ns", "dispatch ns", "complete ns", "steady ns", "B/pending",
              "peak MB", "death ms p50/max");
  for (auto& f : all)
    std::printf("%8u %9llu %11.0f %12.0f %12.0f %12.0f %11.1f %10.0f %7.2f/%-6.2f\n", f.nodes,
                static_cast<unsigned long long>(f.running), f.enqueue_ns, f.dispatch_ns,
                f.complete_ns, f.cycle_ns, f.pending_bytes,
                static_cast<double>(f.rss_peak) / 1e6, f.death_ms_median, f.death_ms_max);
  std::printf("(%u slots a node, %llu pending; steady = one result and its slot's refill; "
              "death = one node's share requeued)\n",
              s.slots, static_cast<unsigned long long>(s.pending));
}

// Each node count in a child process of its own, so that one count's
// memory figures do not profit from what another freed.
figures measure_in_child(uint32_t nodes, const settings& s) {
  int fds[2];
  if (::pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  auto pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int rc = 0;
    try {
      auto f = measure(nodes, s);
      rc = ::write(fds[1], &f, sizeof f) == static_cast<ssize_t>(sizeof f) ? 0 : 1;
    } catch (const std::exception& e) {
      std::cerr << "gasched-core-scale-bench: " << e.what() << "\n";
      rc = 1;
    }
    ::_exit(rc);
  }
  ::close(fds[1]);
  figures f;
  auto got = ::read(fds[0], &f, sizeof f);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof f) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the run with " + std::to_string(nodes) + " nodes failed");
  return f;
}

} // namespace

int main(int argc, char** argv) {
  try {
    auto s = parse(argc, argv);
    std::vector<figures> all;
    for (auto n : s.nodes)
      all.push_back(measure_in_child(n, s));
    if (s.json)
      print_json(all);
    else
      print_table(all, s);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gasched-core-scale-bench: " << e.what() << "\n";
    return 2;
  }
}
