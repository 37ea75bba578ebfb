// Idle: what a cluster costs while nothing is submitted, in CPU seconds per
// idle minute of each process (a scheduler runs around the clock and mostly
// waits). Measured with each process's own counters (the CPU time of its
// threads, /proc/PID/task/*/schedstat) over a window, scaled to a minute:
// never this benchmark's process, whose CPU the other scenarios' leftovers
// would pollute. Three kinds, all in one window, each its own process:
//
// - gasched-run --listen --serve --nodes 0 --progress off, with 2 stock
//   gasched-node processes joined to it (--join): the command;
// - gasched-node, each of those two (their mean);
// - a library scheduler: gasched-idle-app, a plain CAF application with
//   gasched::init, one node in the process and a scheduler (README's
//   "Using the library"); once as it is, and once more with CAF's own
//   default policy (--caf#scheduler.policy=stealing), to show what init's
//   defaults save.
//
// The target: each under 0.3 % of a core, 0.18 CPU seconds a minute.
#include "scenarios.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

namespace gasched::bench {

namespace {

// CPU time of each thread of `pid` so far, in ns: the first field of
// /proc/PID/task/TID/schedstat. (/proc/PID/stat's utime + stime count in
// clock ticks of 10 ms, too coarse for a process that idles for seconds.)
std::map<std::string, uint64_t> thread_cpu_ns(pid_t pid) {
  std::map<std::string, uint64_t> result;
  std::error_code ec;
  for (auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in{task.path() / "schedstat"};
    uint64_t ns = 0;
    if (in >> ns)
      result[task.path().filename().string()] = ns;
  }
  return result;
}

// CPU seconds of `pid`'s threads between two samples (a thread that ended
// in between takes its last part along; none does in an idle process).
double cpu_seconds_between(const std::map<std::string, uint64_t>& before,
                           const std::map<std::string, uint64_t>& after) {
  uint64_t ns = 0;
  for (auto& [tid, now] : after) {
    auto it = before.find(tid);
    ns += it == before.end() ? now : now - std::min(now, it->second);
  }
  return static_cast<double>(ns) / 1e9;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// The processes of one measurement, stopped (SIGTERM) when it ends.
struct idle_cluster {
  tools::child_process run;
  std::vector<tools::child_process> nodes;
  tools::child_process app;
  tools::child_process stealing_app;
  std::string run_log = temp_file("idle-run");

  ~idle_cluster() {
    for (auto* p : {&app, &stealing_app, &run})
      p->signal(SIGTERM);
    for (auto& n : nodes)
      n.signal(SIGTERM);
    for (auto* p : {&app, &stealing_app, &run})
      if (!p->wait_exit(10s))
        p->kill();
    for (auto& n : nodes)
      if (!n.wait_exit(10s))
        n.kill();
    std::remove(run_log.c_str());
  }
};

// Waits up to `timeout` for `count` lines of gasched-run's stderr holding
// `what`. A file: nothing to block on but its growth.
void await_log(const std::string& path, const std::string& what, size_t count,
               std::chrono::seconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    auto text = read_file(path);
    size_t found = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
      ++found;
    if (found >= count)
      return;
    if (clock_type::now() >= deadline)
      throw std::runtime_error("idle: gasched-run did not say \"" + what + "\" "
                               + std::to_string(count) + " times; its stderr:\n" + text);
    std::this_thread::sleep_for(50ms);
  }
}

void start(idle_cluster& c, const options& opts) {
  auto run_program = opts.apps_dir + "/gasched-run";
  c.run = tools::child_process::start_logged(
    {run_program, "--listen", "127.0.0.1:0", "--serve", "--nodes", "0", "--progress", "off"},
    c.run_log);
  // "gasched-run scheduler listening on 127.0.0.1:PORT"
  auto line = c.run.read_line(20s);
  auto colon = line ? line->rfind(':') : std::string::npos;
  if (!line || line->find("listening on") == std::string::npos || colon == std::string::npos)
    throw std::runtime_error("idle: gasched-run did not say where it listens: "
                             + line.value_or("(nothing)") + "\n" + read_file(c.run_log));
  auto address = "127.0.0.1:" + line->substr(colon + 1);
  for (int i = 1; i <= 2; ++i)
    c.nodes.push_back(tools::child_process::start(
      {opts.apps_dir + "/gasched-node", "--join", address, "--name",
       "idle-node-" + std::to_string(i)},
      true));
  auto app_program = self_dir() + "/gasched-idle-app";
  c.app = tools::child_process::start({app_program});
  c.stealing_app = tools::child_process::start({app_program, "--caf#scheduler.policy=stealing"});
  for (auto* app : {&c.app, &c.stealing_app})
    if (app->read_line(20s) != std::optional<std::string>{"ready"})
      throw std::runtime_error("idle: gasched-idle-app did not start");
  // gasched-run says so when a node joined its scheduler.
  await_log(c.run_log, "joined", 2, 30s);
}

} // namespace

void idle(context& c) {
  idle_cluster procs;
  start(procs, c.opts);
  // What starting and joining cost is not idling: let it pass first.
  std::this_thread::sleep_for(c.opts.quick ? 1s : 3s);
  auto window = c.opts.quick ? 3s : 20s;
  const std::string unit = "CPU s per idle minute";
  const std::string target = "target < 0.18 (0.3 % of a core)";
  figure run{"idle", "gasched-run --serve, 2 joined nodes, nothing submitted", unit, {}, "",
             target};
  figure node{"idle", "gasched-node joined to it (mean of 2)", unit, {}, "", target};
  figure app{"idle", "library scheduler + in-process node (plain CAF app, gasched::init)",
             unit, {}, "", target};
  figure stealing{"idle", "the same app with CAF's default policy (scheduler.policy=stealing)",
                  unit, {}, "", "what gasched::init's defaults save"};
  std::vector<pid_t> pids{procs.run.pid(), procs.nodes[0].pid(), procs.nodes[1].pid(),
                          procs.app.pid(), procs.stealing_app.pid()};
  for (int i = 0; i < c.runs; ++i) {
    std::vector<std::map<std::string, uint64_t>> before;
    for (auto pid : pids)
      before.push_back(thread_cpu_ns(pid));
    auto t0 = clock_type::now();
    std::this_thread::sleep_for(window);
    auto per_minute = 60.0 / seconds_since(t0);
    std::vector<double> used;
    for (size_t p = 0; p < pids.size(); ++p) {
      auto after = thread_cpu_ns(pids[p]);
      if (after.empty() || kill(pids[p], 0) != 0)
        throw std::runtime_error("idle: a process of the measurement ended");
      used.push_back(cpu_seconds_between(before[p], after) * per_minute);
    }
    run.runs.push_back(used[0]);
    node.runs.push_back((used[1] + used[2]) / 2);
    app.runs.push_back(used[3]);
    stealing.runs.push_back(used[4]);
  }
  c.add(run);
  c.add(node);
  c.add(app);
  c.add(stealing);
}

} // namespace gasched::bench
