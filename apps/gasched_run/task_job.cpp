#include "gasched_run/task_job.hpp"

#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "gasched_run/cluster.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/run_summary.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/task_file.hpp"
#include "gasched_run/untrusted_text.hpp"

namespace gasched::run {

namespace {

// One JSON document a line, flushed: a consumer reading the pipe sees each
// result as it arrives.
void print_line(const out_json& j) {
  std::cout << dump_safely(j) << '\n' << std::flush;
}

// With `serving`, a signal is the normal end: only unfinished tasks spoil it.
out_json summary_json(const run_report& run, size_t malformed, bool serving = false) {
  out_json nodes = out_json::object();
  for (auto& [node, tally] : run.by_node)
    nodes[node.empty() ? "(none)" : node] = tally.succeeded + tally.failed;
  out_json s;
  auto ended_well = serving ? run.fatal.empty() && run.unfinished() == 0 : run.complete();
  s["ok"] = ended_well && run.failed == 0 && malformed == 0;
  s["tasks"] = run.total;
  s["succeeded"] = run.succeeded;
  s["failed"] = run.failed;
  s["unfinished"] = run.unfinished();
  s["malformed_lines"] = malformed;
  s["requeued"] = run.requeued_known ? out_json(run.requeued) : out_json(nullptr);
  s["by_node"] = nodes;
  if (!run.killed_node.empty())
    s["killed"] = kill_json(run);
  add_cluster_summary(s, run);
  if (run.interrupted_by != 0)
    s["interrupted_by_signal"] = run.interrupted_by;
  if (!run.fatal.empty())
    s["error"] = run.fatal;
  s["seconds"] = run.seconds;
  return out_json{{"summary", s}};
}

// A run cut short: a result line for every task that has none, so that a
// reader of the output never takes a missing line for a success.
void print_unfinished(const task_file& file, const std::vector<bool>& finished,
                      const run_report& run) {
  auto reason = run.interrupted_by != 0
                  ? "the run was interrupted by signal " + std::to_string(run.interrupted_by)
                  : "the run could not complete: " + run.fatal;
  for (size_t i = 0; i < finished.size(); ++i)
    if (!finished[i])
      print_line(out_json{{"line", file.tasks[i].line},
                          {"fn", file.tasks[i].task.function},
                          {"ok", false},
                          {"error", "unfinished"},
                          {"reason", reason}});
}

// Says how the run ended; its exit code.
int exit_code(const run_report& run, const task_file& file, const std::string& name,
              const std::string& where, progress& display, const stop_signals& signals) {
  if (run.interrupted_by != 0) {
    display.error(fmt::format("interrupted: {} of {} tasks were done, {} unfinished",
                              run.succeeded + run.failed, run.total, run.unfinished()));
    return signals.exit_code();
  }
  if (!run.fatal.empty()) {
    display.error(fmt::format("the run could not complete: {} ({} of {} tasks done, {} "
                              "unfinished)",
                              run.fatal, run.succeeded + run.failed, run.total,
                              run.unfinished()));
    return 1;
  }
  display.notice(fmt::format("{} tasks on {} in {:.2f} s: {} succeeded, {} failed{}{}",
                             run.total, where, run.seconds, run.succeeded, run.failed,
                             run.requeued_known && run.requeued > 0
                               ? fmt::format(", {} requeued", run.requeued)
                               : "",
                             run.restarts.empty()
                               ? ""
                               : fmt::format(", {} local node death{}", run.restarts.size(),
                                             run.restarts.size() == 1 ? "" : "s")));
  if (run.failed > 0 || !file.bad.empty()) {
    std::string what;
    if (run.failed > 0)
      what = fmt::format("{} of {} tasks failed", run.failed, run.total);
    if (!file.bad.empty())
      what += fmt::format("{}{} malformed line{} in {}", what.empty() ? "" : "; ",
                          file.bad.size(), file.bad.size() == 1 ? "" : "s", name);
    display.error(what);
    return 1;
  }
  return 0;
}

} // namespace

int run_task_job(const options& opts, progress& display, stop_signals& signals) {
  task_file file;
  auto name = opts.tasks_file == "-" ? std::string{"stdin"} : opts.tasks_file;
  if (opts.tasks_file == "-") {
    file = read_task_file(std::cin);
  } else {
    std::ifstream in{opts.tasks_file};
    if (!in) {
      display.error("cannot read " + opts.tasks_file);
      return 2;
    }
    file = read_task_file(in);
  }
  for (auto& bad : file.bad) {
    display.error(fmt::format("{}:{}: {}", name, bad.line, bad.reason));
    print_line(bad_line_to_json(bad));
  }
  if (file.tasks.empty()) {
    display.error(name + " has no task to run");
    return file.bad.empty() ? 0 : 1;
  }

  cluster c{opts, display, signals};
  c.start();
  std::vector<task> tasks;
  for (auto& t : file.tasks)
    tasks.push_back(t.task);
  std::vector<bool> finished(file.tasks.size());
  auto run = c.run(std::move(tasks), [&](size_t index, const task_result& r) {
    finished[index] = true;
    print_line(result_to_json(file.tasks[index].line, r));
  });
  c.shutdown();
  print_unfinished(file, finished, run);

  if (opts.json)
    print_line(summary_json(run, file.bad.size()));
  return exit_code(run, file, name, c.description(run), display, signals);
}

int run_serve(const options& opts, progress& display, stop_signals& signals) {
  cluster c{opts, display, signals};
  c.start();
  auto run = c.serve();
  c.shutdown();
  if (opts.json)
    print_line(summary_json(run, 0, true));
  auto served = fmt::format("served {} tasks: {} succeeded, {} failed", run.succeeded + run.failed,
                            run.succeeded, run.failed);
  if (!run.fatal.empty()) {
    display.error(fmt::format("{}; {} unfinished: {}", served, run.unfinished(), run.fatal));
    return 1;
  }
  if (run.unfinished() > 0) {
    // Even with --quiet: work was dropped, and "N succeeded" alone would hide it.
    display.error(fmt::format("{}; stopped by signal {} with {} task{} unfinished (pending or "
                              "running when it stopped)",
                              served, run.interrupted_by, run.unfinished(),
                              run.unfinished() == 1 ? "" : "s"));
    return signals.exit_code();
  }
  display.notice(served);
  return 0;  // a signal is how serving ends
}

} // namespace gasched::run
