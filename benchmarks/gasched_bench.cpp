// gasched-bench: every figure of the README's results table, with its spread,
// printed as a table and written as JSON with the machine and the commit.
//
// Each scenario has the shape of the reference measurements of gascheduler:
// this process is the scheduler (and the client); 2 gasched-node processes on
// 127.0.0.1 run the tasks, 10 slots each; the task is an identity on an int32.
// Dispatch scaling uses in-process nodes that answer at once, to measure the
// scheduler's own cost. Figures are medians of --repeat runs (default 3), with
// the lowest and highest run as the spread.
#include <malloc.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "tcp_proxy.hpp"
#include "gasched/gasched.hpp"
#include "wire.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using gasched::task;
using gasched::task_result;

namespace {

// -- options and output ------------------------------------------------------------

struct options {
  bool quick = false;  // small sizes: a smoke test, not a measurement
  int repeat = 3;
  std::string json_path = "gasched-bench.json";
  std::string node_program;
  std::string core_bench;
  std::vector<std::string> only;
  std::string policy = "sharing";
};

struct figure {
  std::string scenario;
  std::string name;
  std::string unit;
  std::vector<double> runs;
  std::string reference;  // gascheduler's figure, for the table
  std::string note;

  double median() const {
    auto v = runs;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
  }
  double low() const {
    return runs.empty() ? 0 : *std::min_element(runs.begin(), runs.end());
  }
  double high() const {
    return runs.empty() ? 0 : *std::max_element(runs.begin(), runs.end());
  }
};

std::string fmt_value(double x) {
  char buf[64];
  if (x >= 1000)
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  else if (x >= 10)
    std::snprintf(buf, sizeof(buf), "%.1f", x);
  else
    std::snprintf(buf, sizeof(buf), "%.2f", x);
  return buf;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double ms_since(clock_type::time_point t0) {
  return seconds_since(t0) * 1000.0;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string self_dir() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string path = n > 0 ? std::string(buf, static_cast<size_t>(n)) : ".";
  return path.substr(0, path.rfind('/'));
}

std::string run_command(const std::string& cmd) {
  std::string out;
  if (auto* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      out.append(buf, n);
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

// -- a cluster for one scenario --------------------------------------------------

class bench_cluster {
public:
  bench_cluster(caf::actor_system& sys, const options& opts, size_t nodes,
                uint32_t slots = 10)
    : sys_(sys), self_(sys) {
    for (size_t i = 1; i <= nodes; ++i) {
      procs_.push_back(gasched::tools::start_node(
        opts.node_program,
        {"--port", "0", "--name", "node" + std::to_string(i), "--slots",
         std::to_string(slots), "--caf#scheduler.policy=" + opts.policy},
        20s));
      auto handle = gasched::connect(sys, "127.0.0.1", procs_.back().port);
      if (!handle)
        throw std::runtime_error(gasched::describe(handle.error()));
      nodes_.push_back(*handle);
    }
  }

  ~bench_cluster() {
    for (auto& s : schedulers_)
      self_->send_exit(s, caf::exit_reason::user_shutdown);
  }

  caf::scoped_actor& self() {
    return self_;
  }

  std::vector<caf::actor>& nodes() {
    return nodes_;
  }

  gasched::tools::node_process& process(size_t i) {
    return procs_[i];
  }

  caf::actor scheduler(uint32_t max_workers, caf::actor client, uint32_t prefetch = 0,
                       const std::string& journal = {}) {
    gasched::scheduler_options o;
    o.journal = journal;
    o.nodes = nodes_;
    o.client = std::move(client);
    o.max_workers = max_workers;
    o.prefetch = prefetch;
    o.max_retries = 3;
    o.retry_timeout = 0s;
    auto s = gasched::spawn_scheduler(sys_, o);
    if (!s)
      throw std::runtime_error(gasched::describe(s.error()));
    schedulers_.push_back(*s);
    return *s;
  }

  gasched::stats stats(const caf::actor& sched) {
    gasched::stats result;
    self_->request(sched, 10s, gasched::stats_atom::value)
      .receive([&](gasched::stats& s) { result = std::move(s); },
               [](caf::error& e) { throw std::runtime_error(gasched::describe(e)); });
    return result;
  }

  // Receives `n` task results, or throws after `timeout` without one.
  std::vector<task_result> results(size_t n, caf::timespan timeout = 60s) {
    std::vector<task_result> got;
    got.reserve(n);
    bool timed_out = false;
    self_->receive_while([&] { return got.size() < n && !timed_out; })(
      [&](task_result& r) { got.push_back(std::move(r)); },
      [&](gasched::task_id) {},
      [&](std::vector<gasched::task_id>&) {},
      caf::after(timeout) >> [&] { timed_out = true; });
    if (timed_out)
      throw std::runtime_error("only " + std::to_string(got.size()) + " of "
                               + std::to_string(n) + " results arrived");
    return got;
  }

private:
  caf::actor_system& sys_;
  caf::scoped_actor self_;
  std::vector<gasched::tools::node_process> procs_;
  std::vector<caf::actor> nodes_;
  std::vector<caf::actor> schedulers_;
};

// A client actor that counts results; done() waits for the n-th. An
// event-based client, as a high-volume user would write, not a blocking one.
class counting_client {
public:
  counting_client(caf::actor_system& sys, size_t n) : self_(sys) {
    auto waiter = caf::actor{self_};
    actor_ = sys.spawn([n, waiter](caf::event_based_actor* self) -> caf::behavior {
      auto got = std::make_shared<size_t>(0);
      return {
        [=](task_result&) {
          if (++*got == n) {
            self->send(waiter, caf::ok_atom::value);
            self->quit();
          }
        },
        [](gasched::task_id) {},
        [](std::vector<gasched::task_id>&) {},
      };
    });
  }

  const caf::actor& actor() const {
    return actor_;
  }

  void done(caf::timespan timeout = 120s) {
    bool ok = false;
    self_->receive([&](caf::ok_atom) { ok = true; }, caf::after(timeout) >> [] {});
    if (!ok)
      throw std::runtime_error("results did not all arrive in time");
  }

private:
  caf::scoped_actor self_;
  caf::actor actor_;
};

std::vector<task> identity_tasks(size_t n) {
  std::vector<task> ts;
  ts.reserve(n);
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.identity", caf::make_message(static_cast<int32_t>(i))});
  return ts;
}

// -- scenarios --------------------------------------------------------------------

// Identity tasks submitted as fast as the API allows, in one batch or with one
// execute message each, until the client holds every result.
double throughput(caf::actor_system& sys, const options& opts, size_t n, uint32_t prefetch,
                  bool batch, const std::string& journal = {}) {
  bench_cluster c{sys, opts, 2};
  counting_client client{sys, n};
  auto sched = c.scheduler(10, client.actor(), prefetch, journal);
  auto tasks = identity_tasks(n);
  auto t0 = clock_type::now();
  if (batch) {
    c.self()->send(sched, gasched::execute_atom::value, std::move(tasks));
  } else {
    for (auto& t : tasks)
      c.self()->send(sched, gasched::execute_atom::value, std::move(t));
  }
  client.done();
  return static_cast<double>(n) / seconds_since(t0);
}

// Tasks of 5 ms on 20 slots: tasks/s against the 4,000/s that 20 slots allow
// (as gascheduler's reference), and the share of slot time spent inside tasks
// (each task reports how long it really slept).
struct utilisation_result {
  double nominal_percent;
  double busy_percent;
};

utilisation_result utilisation_5ms(caf::actor_system& sys, const options& opts, size_t n,
                                   uint32_t prefetch) {
  bench_cluster c{sys, opts, 2};
  auto busy_us = std::make_shared<double>(0);
  caf::scoped_actor waiter{sys};
  auto client = sys.spawn([=, w = caf::actor{waiter}](caf::event_based_actor* self) {
    auto got = std::make_shared<size_t>(0);
    return caf::behavior{
      [=](task_result& r) {
        if (r.ok())
          *busy_us += static_cast<double>(r.value.get_as<int64_t>(0));
        if (++*got == n) {
          self->send(w, caf::ok_atom::value);
          self->quit();
        }
      },
      [](std::vector<gasched::task_id>&) {},
    };
  });
  auto sched = c.scheduler(10, client, prefetch);
  std::vector<task> ts;
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.sleep_timed", caf::make_message(int32_t{5})});
  auto t0 = clock_type::now();
  c.self()->send(sched, gasched::execute_atom::value, std::move(ts));
  bool done = false;
  waiter->receive([&](caf::ok_atom) { done = true; }, caf::after(120s) >> [] {});
  if (!done)
    throw std::runtime_error("5 ms tasks: results did not all arrive in time");
  auto elapsed = seconds_since(t0);
  return {100.0 * static_cast<double>(n) * 0.005 / (elapsed * 20.0),
          100.0 * (*busy_us / 1e6) / (elapsed * 20.0)};
}

// Sequential round trips from an event-based client: await, result, next.
// With caf_floor, the request is a bare hello to a node instead: CAF's own
// remote round trip, the floor under gasched's.
std::vector<double> latency_run(caf::actor_system& sys, const options& opts, size_t n,
                                bool caf_floor = false) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, nullptr);
  auto node = c.nodes().front();
  auto samples = std::make_shared<std::vector<double>>();
  auto client = sys.spawn([=](caf::event_based_actor* self) {
    auto next = std::make_shared<std::function<void(int32_t)>>();
    *next = [=](int32_t i) {
      if (static_cast<size_t>(i) == n) {
        self->quit();
        return;
      }
      auto t0 = clock_type::now();
      auto record = [=] {
        samples->push_back(
          std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        (*next)(i + 1);
      };
      if (caf_floor) {
        self->request(node, 10s, gasched::hello_atom::value)
          .then([=](gasched::detail::node_info&) { record(); },
                [=](caf::error&) { self->quit(); });
        return;
      }
      self
        ->request(sched, 10s, gasched::await_atom::value,
                  task{"test.identity", caf::make_message(i)})
        .then(
          [=](task_result&) { record(); },
          [=](caf::error&) { self->quit(); });
    };
    (*next)(-100);  // 100 warm-up round trips first
  });
  c.self()->wait_for(client);
  samples->erase(samples->begin(), samples->begin() + std::min<size_t>(100, samples->size()));
  if (samples->size() != n)
    throw std::runtime_error("latency: a round trip failed");
  return *samples;
}

struct memory_result {
  double bytes_per_task;
  double enqueue_rate;
};

// Pending tasks with no free slot (max_workers 0): heap bytes per task and
// how fast they are accepted, submitted in batches of 10,000 or one by one.
memory_result memory_run(caf::actor_system& sys, const options& opts, size_t n,
                         bool batched, bool string_args = false) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(0, nullptr);
  malloc_trim(0);
  auto before = mallinfo2().uordblks;
  constexpr size_t batch = 10000;
  auto t0 = clock_type::now();
  size_t acked = 0;
  if (batched) {
    for (size_t done = 0; done < n; done += batch) {
      std::vector<task> ts;
      ts.reserve(batch);
      for (size_t i = done; i < std::min(n, done + batch); ++i)
        ts.push_back(string_args
                       ? task{"test.identity", caf::make_message("arg-" + std::to_string(i)
                                                                 + "-padded-past-sso")}
                       : task{"test.identity",
                              caf::make_message(static_cast<int32_t>(i))});
      c.self()->send(sched, gasched::execute_atom::value, std::move(ts));
    }
    c.self()->receive_for(acked, (n + batch - 1) / batch)(
      [](std::vector<gasched::task_id>&) {});
  } else {
    for (size_t i = 0; i < n; ++i)
      c.self()->send(sched, gasched::execute_atom::value,
                     task{"test.identity", caf::make_message(static_cast<int32_t>(i))});
    c.self()->receive_for(acked, n)([](gasched::task_id) {});
  }
  auto rate = static_cast<double>(n) / seconds_since(t0);
  if (c.stats(sched).pending != n)
    throw std::runtime_error("memory: not every task is pending");
  auto after = mallinfo2().uordblks;
  return {static_cast<double>(after - before) / static_cast<double>(n), rate};
}

// An in-process node that answers every order at once: the value is the argument.
caf::behavior instant_node(caf::event_based_actor* self, std::string name) {
  return {
    [=](gasched::hello_atom) { return gasched::detail::node_info{name, 0}; },
    [=](gasched::run_atom, gasched::detail::run_batch& batch) {
      gasched::detail::done_batch done;
      done.outcomes.reserve(batch.orders.size());
      for (auto& o : batch.orders)
        done.outcomes.push_back({o.id, o.epoch, std::move(o.args), caf::error{}});
      self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                 gasched::done_atom::value, std::move(done));
    },
    [](gasched::cancel_atom, gasched::task_id, uint32_t) {},
  };
}

// Wall time per task with `nodes` instant nodes: what the scheduler spends.
double dispatch_cost_us(caf::actor_system& sys, size_t nodes, size_t n) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> fake;
  for (size_t i = 0; i < nodes; ++i)
    fake.push_back(sys.spawn(instant_node, "instant" + std::to_string(i)));
  gasched::scheduler_options o;
  o.nodes = fake;
  o.client = self;
  o.max_workers = 10;
  auto sched = gasched::spawn_scheduler(sys, o);
  if (!sched)
    throw std::runtime_error(gasched::describe(sched.error()));
  auto tasks = identity_tasks(n);
  auto t0 = clock_type::now();
  self->send(*sched, gasched::execute_atom::value, std::move(tasks));
  size_t got = 0;
  self->receive_while([&] { return got < n; })([&](task_result&) { ++got; },
                                               [](std::vector<gasched::task_id>&) {});
  auto us = seconds_since(t0) * 1e6 / static_cast<double>(n);
  self->send_exit(*sched, caf::exit_reason::user_shutdown);
  for (auto& f : fake)
    self->send_exit(f, caf::exit_reason::user_shutdown);
  return us;
}

struct failover_result {
  double requeue_ms;
  double all_results_ms;
  size_t results;
};

// One-second tasks on 2 nodes; node1 killed with kill -9 while they run.
failover_result failover_kill(caf::actor_system& sys, const options& opts, size_t n,
                              int32_t task_ms) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, c.self());
  std::vector<task> ts;
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.sleep", caf::make_message(static_cast<int32_t>(i), task_ms)});
  c.self()->send(sched, gasched::execute_atom::value, std::move(ts));
  while (c.stats(sched).running < std::min<size_t>(n, 20))
    std::this_thread::yield();
  auto lost = c.stats(sched).worker_nodes;
  uint64_t on_node1 = 0;
  for (auto& w : lost)
    if (w.node == "node1")
      on_node1 = w.running;
  auto t0 = clock_type::now();
  c.process(0).process.kill();
  while (c.stats(sched).requeued < on_node1)
    ;  // poll as fast as the scheduler answers
  auto requeue_ms = ms_since(t0);
  auto got = c.results(n);
  std::set<gasched::task_id> ids;
  for (auto& r : got)
    if (r.ok())
      ids.insert(r.id);
  return {requeue_ms, ms_since(t0), ids.size()};
}

// A node stopped with kill -STOP: time until the scheduler declares it down.
double failover_stop(caf::actor_system& sys, const options& opts) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, c.self());
  auto t0 = clock_type::now();
  c.process(0).process.signal(SIGSTOP);
  while (c.stats(sched).worker_node_count == 2) {
    if (seconds_since(t0) > 30)
      throw std::runtime_error("kill -STOP: never declared down");
    std::this_thread::sleep_for(1ms);
  }
  return ms_since(t0);
}

// A node joined through a fault-injecting proxy; the link is cut for `cut`
// while a task waits for it. The time from the heal until that task's result
// is here: the rejoin, plus one task's round trip.
double rejoin_after_cut(caf::actor_system& sys, const options& opts, caf::timespan cut) {
  caf::scoped_actor self{sys};
  gasched::scheduler_options o;
  o.client = self;
  o.retry_timeout = 0s;
  auto sched = gasched::spawn_scheduler(sys, o);
  if (!sched)
    throw std::runtime_error(gasched::describe(sched.error()));
  auto guard = std::shared_ptr<void>(nullptr, [&](void*) {
    self->send_exit(*sched, caf::exit_reason::user_shutdown);
  });
  auto port = gasched::publish(sys, *sched, 0);
  if (!port)
    throw std::runtime_error(gasched::describe(port.error()));
  gasched::testing::tcp_proxy proxy{*port};
  auto node = gasched::tools::start_node(
    opts.node_program,
    {"--port", "0", "--name", "cut", "--join", "127.0.0.1:" + std::to_string(proxy.port())},
    20s, true);
  auto wait_nodes = [&](uint32_t n) {
    auto t0 = clock_type::now();
    for (;;) {
      gasched::stats st;
      self->request(*sched, 10s, gasched::stats_atom::value)
        .receive([&](gasched::stats& x) { st = std::move(x); },
                 [](caf::error& e) { throw std::runtime_error(gasched::describe(e)); });
      if (st.worker_node_count == n)
        return;
      if (seconds_since(t0) > 30)
        throw std::runtime_error("rejoin: the node count never became " + std::to_string(n));
      std::this_thread::sleep_for(1ms);
    }
  };
  wait_nodes(1);
  auto cut_at = clock_type::now();
  proxy.blackhole();
  wait_nodes(0);
  self->send(*sched, gasched::execute_atom::value, task{"test.node_name", {}});
  std::this_thread::sleep_until(cut_at + cut);
  auto healed = clock_type::now();
  proxy.pass();
  double took = -1;
  self->receive_while([&] { return took < 0; })(
    [&](task_result& r) {
      if (!r.ok() || r.node != "cut")
        throw std::runtime_error("rejoin: the task did not run on the rejoined node");
      took = ms_since(healed);
    },
    [](gasched::task_id) {}, caf::after(30s) >> [&] { took = 30000; });
  return took;
}

std::string temp_journal() {
  char name[] = "/tmp/gasched-bench-journal-XXXXXX";
  auto fd = mkstemp(name);
  close(fd);
  std::remove(name);  // the journal makes its own file
  return name;
}

// n pending tasks (no node) journaled by one scheduler, then a second one
// started on the file: how long spawn_scheduler takes to resume them.
figure journal_resume(caf::actor_system& sys, size_t n) {
  auto file = temp_journal();
  caf::scoped_actor self{sys};
  gasched::scheduler_options o;
  o.journal = file;
  o.journal_sync = false;
  {
    auto first = gasched::spawn_scheduler(sys, o);
    if (!first)
      throw std::runtime_error(gasched::describe(first.error()));
    for (size_t done = 0; done < n; done += 10000)
      self->request(*first, 60s, gasched::execute_atom::value, identity_tasks(std::min<size_t>(10000, n - done)))
        .receive([](std::vector<gasched::task_id>&) {},
                 [](caf::error& e) { throw std::runtime_error(gasched::describe(e)); });
    self->send_exit(*first, caf::exit_reason::kill);
    self->wait_for(*first);
  }
  auto bytes = std::filesystem::file_size(file);
  auto t0 = clock_type::now();
  auto second = gasched::spawn_scheduler(sys, o);
  auto ms = ms_since(t0);
  if (!second)
    throw std::runtime_error(gasched::describe(second.error()));
  self->send_exit(*second, caf::exit_reason::kill);
  self->wait_for(*second);
  std::remove(file.c_str());
  std::remove((file + "-wal").c_str());
  std::remove((file + "-shm").c_str());
  std::cerr << "  journal / bytes per pending task: " << static_cast<double>(bytes) / n << "\n";
  return figure{"journal", "resume " + std::to_string(n) + " pending tasks", "ms", {ms}, "",
                fmt_value(static_cast<double>(bytes) / static_cast<double>(n))
                  + " journal bytes per pending task"};
}

// gasched-core-bench's figures: ns per operation.
std::vector<figure> core_micro(const options& opts) {
  auto cmd = opts.core_bench + " --benchmark_format=json --benchmark_min_time="
             + (opts.quick ? "0.01" : "0.3") + " 2>/dev/null";
  auto out = run_command(cmd);
  std::vector<figure> result;
  auto json = nlohmann::json::parse(out, nullptr, false);
  if (json.is_discarded() || !json.contains("benchmarks"))
    throw std::runtime_error("gasched-core-bench gave no JSON: " + cmd);
  for (auto& b : json["benchmarks"]) {
    // Per task where the benchmark counts tasks, else per iteration.
    auto ns = b.contains("items_per_second") ? 1e9 / b["items_per_second"].get<double>()
                                              : b["real_time"].get<double>();
    auto unit = b.contains("items_per_second") ? "ns per task" : "ns";
    result.push_back(figure{"core", b["name"].get<std::string>(), unit, {ns}, "",
                            "Google Benchmark, one run"});
  }
  return result;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"gasched-bench: throughput, latency, memory, dispatch scaling and "
               "failover of gasched, beside gascheduler's reference figures."};
  options opts;
  // The test node: the scenarios run test.* functions, which the stock node lacks.
  opts.node_program = self_dir() + "/../apps/gasched-test-node";
  opts.core_bench = self_dir() + "/gasched-core-bench";
  app.add_flag("--quick", opts.quick, "small sizes: checks that it runs, measures nothing");
  app.add_option("--repeat", opts.repeat, "runs per figure")->check(CLI::Range(1, 20))
    ->capture_default_str();
  app.add_option("--json", opts.json_path, "where the figures go")->capture_default_str();
  app.add_option("--node-program", opts.node_program, "gasched-test-node to start")
    ->capture_default_str();
  app.add_option("--core-bench", opts.core_bench, "gasched-core-bench to run")
    ->capture_default_str();
  app.add_option("--only", opts.only,
                 "scenarios to run: throughput, latency, memory, scaling, failover, journal, core");
  app.add_option("--policy", opts.policy, "CAF scheduler policy of every process")
    ->check(CLI::IsMember({"sharing", "stealing"}))
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  gasched::set_log_level(gasched::log_level::error);
  std::string command;
  for (int i = 0; i < argc; ++i)
    command += (i > 0 ? " " : "") + std::string(argv[i]);
  auto wanted = [&](const std::string& s) {
    return opts.only.empty()
           || std::find(opts.only.begin(), opts.only.end(), s) != opts.only.end();
  };

  caf::actor_system_config cfg;
  gasched::init(cfg);
  cfg.set("scheduler.policy", caf::atom_from_string(opts.policy));
  caf::actor_system sys{cfg};

  auto q = opts.quick;
  auto runs = q ? 1 : opts.repeat;
  std::vector<figure> figures;
  auto repeat = [&](figure f, const std::function<double()>& once) {
    for (int i = 0; i < runs; ++i)
      f.runs.push_back(once());
    std::cerr << "  " << f.scenario << " / " << f.name << ": " << fmt_value(f.median())
              << " " << f.unit << "\n";
    figures.push_back(std::move(f));
  };
  try {
    if (wanted("throughput")) {
      size_t n = q ? 2000 : 100000;
      auto label = std::to_string(n) + " identity tasks";
      repeat({"throughput", label + ", one batch, default settings (adaptive prefetch)",
              "tasks/s", {}, "11,309", "nothing tuned"},
             [&] { return throughput(sys, opts, n, gasched::adaptive_prefetch, true); });
      repeat({"throughput", label + ", one batch, prefetch 0", "tasks/s", {},
              "11,309 (100,000 tasks)", "a node holds only what it runs, as gascheduler"},
             [&] { return throughput(sys, opts, n, 0, true); });
      repeat({"throughput", label + ", one batch, prefetch 10", "tasks/s", {}, "11,309",
              "a node holds 10 x (1 + 10) tasks, runs 10"},
             [&] { return throughput(sys, opts, n, 10, true); });
      repeat({"throughput", label + ", one execute each, prefetch 10", "tasks/s", {},
              "11,309", ""},
             [&] { return throughput(sys, opts, n, 10, false); });
      size_t m = q ? 200 : 4000;
      for (uint32_t prefetch : {gasched::adaptive_prefetch, 0u, 1u}) {
        auto label = std::to_string(m) + " tasks of 5 ms, prefetch "
                     + (prefetch == gasched::adaptive_prefetch ? std::string{"adaptive (default)"}
                                                               : std::to_string(prefetch));
        figure nominal{"throughput", label + ": of the 4,000 tasks/s 20 slots allow", "%",
                       {}, "83 % (3,305 tasks/s)", ""};
        figure busy{"throughput", label + ": slot time spent in tasks", "%", {}, "", ""};
        for (int i = 0; i < runs; ++i) {
          auto r = utilisation_5ms(sys, opts, m, prefetch);
          nominal.runs.push_back(r.nominal_percent);
          busy.runs.push_back(r.busy_percent);
        }
        for (auto* f : {&nominal, &busy}) {
          std::cerr << "  throughput / " << f->name << ": " << fmt_value(f->median())
                    << " %\n";
          figures.push_back(*f);
        }
      }
    }
    if (wanted("latency")) {
      size_t n = q ? 100 : 2000;
      std::vector<std::vector<double>> all;
      figure floor{"latency", "CAF's own remote request/response p50 (the floor)", "us", {},
                   "", "hello to a node actor, same processes"};
      for (int i = 0; i < runs; ++i) {
        all.push_back(latency_run(sys, opts, n));
        floor.runs.push_back(percentile(latency_run(sys, opts, n, true), 0.5));
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
      for (auto* f : {&p50, &p99, &max, &floor}) {
        std::cerr << "  latency / " << f->name << ": " << fmt_value(f->median()) << " us\n";
        figures.push_back(*f);
      }
    }
    if (wanted("memory")) {
      size_t n = q ? 20000 : 1000000;
      figure bytes{"memory", "scheduler bytes per pending one-int task, "
                               + std::to_string(n) + " pending",
                   "B", {}, "97 (71 after GC)", "heap in use (mallinfo2) after / before"};
      figure rate{"memory", "enqueue rate, batches of 10,000", "tasks/s", {}, "550,000", ""};
      for (int i = 0; i < runs; ++i) {
        auto r = memory_run(sys, opts, n, true);
        bytes.runs.push_back(r.bytes_per_task);
        rate.runs.push_back(r.enqueue_rate);
      }
      figures.push_back(bytes);
      figures.push_back(rate);
      repeat({"memory", "enqueue rate, one execute each", "tasks/s", {}, "550,000", ""},
             [&] { return memory_run(sys, opts, n, false).enqueue_rate; });
      repeat({"memory", "bytes per pending task with a 25-char string argument", "B", {},
              "", "stored by reference, not inline"},
             [&] { return memory_run(sys, opts, n / 4, true, true).bytes_per_task; });
    }
    if (wanted("scaling")) {
      size_t n = q ? 5000 : 200000;
      for (size_t nodes : {2, 16, 64, 256})
        repeat({"scaling", "scheduler time per task, " + std::to_string(nodes)
                             + " instant nodes",
                "us", {}, nodes == 2 ? "grows with nodes x running" : "", ""},
               [&] { return dispatch_cost_us(sys, nodes, n); });
    }
    if (wanted("failover")) {
      size_t n = q ? 20 : 100;
      int32_t ms = q ? 200 : 1000;
      figure requeue{"failover", "kill -9: tasks back in pending after", "ms", {}, "14", ""};
      figure done{"failover", "kill -9: all " + std::to_string(n) + " results after", "ms",
                  {}, "9,500", ""};
      figure count{"failover", "kill -9: distinct results", "", {}, "100, no duplicates", ""};
      for (int i = 0; i < runs; ++i) {
        auto r = failover_kill(sys, opts, n, ms);
        requeue.runs.push_back(r.requeue_ms);
        done.runs.push_back(r.all_results_ms);
        count.runs.push_back(static_cast<double>(r.results));
      }
      figures.push_back(requeue);
      figures.push_back(done);
      figures.push_back(count);
      repeat({"failover", "kill -STOP: declared down after", "ms", {}, "60,000 (net_ticktime)",
              "default heartbeat 200 ms, timeout 1 s"},
             [&] { return failover_stop(sys, opts); });
      // Median of at least 5: the pause between join attempts is random.
      figure rejoin{"failover", "link cut 3 s, healed: first task on the rejoined node after",
                    "ms", {}, "", "heal -> result of a task that waited for it"};
      for (int i = 0; i < std::max(runs, q ? 1 : 5); ++i)
        rejoin.runs.push_back(rejoin_after_cut(sys, opts, q ? 1500ms : 3s));
      figures.push_back(rejoin);
    }
    if (wanted("journal")) {
      size_t n = q ? 2000 : 100000;
      auto label = std::to_string(n) + " identity tasks, one batch";
      for (uint32_t prefetch : {0u, 10u}) {
        auto p = std::to_string(prefetch);
        repeat({"journal", label + ", prefetch " + p + ", journal off", "tasks/s", {}, "", ""},
               [&] { return throughput(sys, opts, n, prefetch, true); });
        repeat({"journal", label + ", prefetch " + p + ", journal on (fsync)", "tasks/s", {}, "",
                "one transaction per drained mailbox"},
               [&] {
                 auto file = temp_journal();
                 auto rate = throughput(sys, opts, n, prefetch, true, file);
                 std::remove(file.c_str());
                 return rate;
               });
      }
      figures.push_back(journal_resume(sys, q ? 20000 : 1000000));
    }
    if (wanted("core"))
      for (auto& f : core_micro(opts))
        figures.push_back(f);
  } catch (const std::exception& e) {
    std::cerr << "gasched-bench: " << e.what() << "\n";
    return 1;
  }

  // -- report ---------------------------------------------------------------------
  utsname uts{};
  uname(&uts);
  auto commit = run_command(std::string{"git -C "} + GASCHED_SOURCE_DIR
                            + " rev-parse --short HEAD 2>/dev/null");
  if (!commit.empty()
      && !run_command(std::string{"git -C "} + GASCHED_SOURCE_DIR
                      + " status --porcelain --untracked-files=no 2>/dev/null")
            .empty())
    commit += "-dirty";  // the figures are of uncommitted code
  nlohmann::json out;
  out["command"] = command;
  out["quick"] = opts.quick;
  out["machine"] = {{"cores", sysconf(_SC_NPROCESSORS_ONLN)},
                    {"cpu", cpu_model()},
                    {"kernel", std::string{uts.sysname} + " " + uts.release},
                    {"caf_policy", opts.policy}};
  out["commit"] = commit.empty() ? "unknown" : commit;
  for (auto& f : figures)
    out["figures"].push_back({{"scenario", f.scenario},
                              {"name", f.name},
                              {"unit", f.unit},
                              {"median", f.median()},
                              {"min", f.low()},
                              {"max", f.high()},
                              {"runs", f.runs},
                              {"gascheduler", f.reference},
                              {"note", f.note}});
  std::ofstream{opts.json_path} << out.dump(2) << "\n";

  std::cout << "gasched-bench, commit " << out["commit"].get<std::string>() << ", "
            << sysconf(_SC_NPROCESSORS_ONLN) << " cores, " << cpu_model() << "\n"
            << "command: " << command << "\n\n"
            << "| scenario | figure | gasched (median) | spread (min-max) | gascheduler |\n"
            << "|---|---|---|---|---|\n";
  for (auto& f : figures)
    std::cout << "| " << f.scenario << " | " << f.name << " | " << fmt_value(f.median())
              << " " << f.unit << " | " << fmt_value(f.low()) << "-" << fmt_value(f.high())
              << " | " << f.reference << " |\n";
  std::cout << "\nJSON: " << opts.json_path << "\n";
  return 0;
}
