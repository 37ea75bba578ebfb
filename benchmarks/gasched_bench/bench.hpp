// gasched-bench's shared pieces: options, a figure with its runs, the cluster
// a scenario runs on, and the context through which a scenario adds figures.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "child_process.hpp"
#include "gasched/gasched.hpp"

namespace gasched::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct options {
  bool quick = false;  // small sizes: a smoke test, not a measurement
  int repeat = 3;
  std::string json_path = "gasched-bench.json";
  std::string node_program;  // gasched-test-node: the scenarios run test.* functions
  std::string apps_dir;      // where gasched-run and gasched-node are
  std::string core_bench;
  std::vector<std::string> only;
  std::string policy = "sharing";
  size_t threads = 0;  // CAF's scheduler.max-threads of every process; 0: as configured
  std::vector<std::string> caf;  // key=value: a CAF option of every process
  std::string tls_dir;  // with it, the nodes start with --tls tls_dir (see tls.cpp)
  std::string pg_url;   // the journal scenario's PostgreSQL; empty: a throw-away server
};

struct figure {
  std::string scenario;
  std::string name;
  std::string unit;
  std::vector<double> runs;
  std::string reference;  // gascheduler's figure, for the table
  std::string note;

  double median() const;
  double low() const;
  double high() const;
};

// What a scenario measures with, and where its figures go.
struct context {
  caf::actor_system& sys;
  const options& opts;
  int runs;  // --repeat, or 1 with --quick
  std::vector<figure>& figures;

  // Runs `once` `runs` times as the figure's runs, prints and adds it.
  void repeat(figure f, const std::function<double()>& once);
  // Prints and adds a figure whose runs are filled in.
  void add(figure f);
};

std::string fmt_value(double x);
double seconds_since(clock_type::time_point t0);
double ms_since(clock_type::time_point t0);
double percentile(std::vector<double> v, double p);
std::string self_dir();
std::string run_command(const std::string& cmd);
std::string cpu_model();
// A new empty file /tmp/gasched-bench-WHAT-XXXXXX; throws when it cannot be made.
std::string temp_file(const std::string& what);

std::vector<task> identity_tasks(size_t n);

// 2 (or `nodes`) gasched-test-node processes on 127.0.0.1, connected by
// address; schedulers spawned here stop with it.
class bench_cluster {
public:
  bench_cluster(caf::actor_system& sys, const options& opts, size_t nodes,
                uint32_t slots = 10);
  ~bench_cluster();

  caf::scoped_actor& self() {
    return self_;
  }
  std::vector<caf::actor>& nodes() {
    return nodes_;
  }
  tools::node_process& process(size_t i) {
    return procs_[i];
  }

  gasched::scheduler_actor scheduler(uint32_t max_workers, caf::actor client, uint32_t prefetch = 0,
                       const std::string& journal = {}, bool journal_sync = true);
  gasched::stats stats(const gasched::scheduler_actor& sched);
  // Receives `n` task results, or throws after `timeout` without one.
  std::vector<task_result> results(size_t n, caf::timespan timeout = 60s);

private:
  caf::actor_system& sys_;
  caf::scoped_actor self_;
  std::vector<tools::node_process> procs_;
  std::vector<caf::actor> nodes_;
  std::vector<gasched::scheduler_actor> schedulers_;
};

// A client actor that counts results; done() waits for the n-th. An
// event-based client, as a high-volume user would write, not a blocking one.
class counting_client {
public:
  counting_client(caf::actor_system& sys, size_t n);
  const caf::actor& actor() const {
    return actor_;
  }
  void done(caf::timespan timeout = 120s);

private:
  caf::scoped_actor self_;
  caf::actor actor_;
};

// Identity tasks in one batch or one execute each, until the client holds
// every result: tasks/s. With `journal`, the scheduler journals to that file
// (with an fsync per commit unless `journal_sync` is false).
// `watch`, if given, is called with the scheduler before the tasks go out;
// what it returns lives until the last result is in (e.g. an HTTP client).
using watch_fn = std::function<std::shared_ptr<void>(const gasched::scheduler_actor& scheduler)>;
double throughput_run(caf::actor_system& sys, const options& opts, size_t n,
                      uint32_t prefetch, bool batch, const std::string& journal = {},
                      const watch_fn& watch = {}, bool journal_sync = true);

// The CPU time (user + system) this process spent during the last
// throughput_run, from the batch's send to its last result: µs per task. It
// holds the scheduler, the client and the journal's writer; the nodes are
// processes of their own.
double last_run_cpu_us_per_task();

// Sequential round trips of one awaited task (or, with caf_floor, of a bare
// request to a node: CAF's own remote round trip), after 100 for warm-up: µs.
std::vector<double> latency_run(caf::actor_system& sys, const options& opts, size_t n,
                                bool caf_floor = false);

// Both, interleaved (task, bare request, task, ...), so that a shared
// machine's load falls on both alike: {gasched's, CAF's}.
std::pair<std::vector<double>, std::vector<double>>
latency_pairs(caf::actor_system& sys, const options& opts, size_t n);

// A fresh path for a journal file (not created).
std::string temp_journal();

} // namespace gasched::bench
