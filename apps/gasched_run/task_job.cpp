#include "gasched_run/task_job.hpp"

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "gasched_run/cluster.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/result_writer.hpp"
#include "gasched_run/run_summary.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/task_file.hpp"
#include "gasched_run/task_reader.hpp"
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

// Says how the run ended; its exit code.
int exit_code(const run_report& run, size_t malformed, const std::string& name,
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
  if (run.failed > 0 || malformed > 0) {
    std::string what;
    if (run.failed > 0)
      what = fmt::format("{} of {} tasks failed", run.failed, run.total);
    if (malformed > 0)
      what += fmt::format("{}{} malformed line{} in {}", what.empty() ? "" : "; ", malformed,
                          malformed == 1 ? "" : "s", name);
    display.error(what);
    return 1;
  }
  return 0;
}

// The reader's lines into the run, their results out through the writer:
// bad lines are reported as they are taken, tasks enter in input order.
class stream_feed : public task_feed {
public:
  stream_feed(task_reader& reader, result_writer& writer, std::string name, progress& display)
    : reader_(reader), writer_(writer), name_(std::move(name)), display_(display) {
  }

  void start(std::function<void()> wake) override {
    reader_.set_wake(std::move(wake));
  }

  // Takes lines until a task comes or the input ends (false: `stop` said to
  // give up first): the cluster starts with the first task, and an input
  // without any runs nothing. The tasks taken wait for the first take().
  bool prime(const std::function<bool()>& stop) {
    while (carry_.empty() && !reader_.ended()) {
      if (!reader_.wait_for_lines(stop))
        return false;
      take(carry_);
    }
    return true;
  }

  bool has_tasks() const noexcept {
    return !carry_.empty();
  }

  void take(std::vector<std::pair<uint64_t, task>>& out) override {
    if (!carry_.empty() && &out != &carry_) {
      out.insert(out.end(), std::make_move_iterator(carry_.begin()),
                 std::make_move_iterator(carry_.end()));
      carry_.clear();
    }
    task_file batch;
    reader_.take(batch);
    // Both lists are in line order: merged, so that --ordered sees input order.
    size_t b = 0;
    for (auto& t : batch.tasks) {
      for (; b < batch.bad.size() && batch.bad[b].line < t.line; ++b)
        bad(batch.bad[b]);
      writer_.add_task(t.line, t.task.function);
      out.emplace_back(t.line, std::move(t.task));
    }
    for (; b < batch.bad.size(); ++b)
      bad(batch.bad[b]);
  }

  bool ended() override {
    return carry_.empty() && reader_.ended();
  }

  void idle() override {
    writer_.flush();
  }

  std::pair<uint64_t, uint64_t> bytes() override {
    return {reader_.bytes_read(), reader_.bytes_total()};
  }

  size_t malformed() const noexcept {
    return malformed_;
  }

private:
  void bad(const bad_line& b) {
    ++malformed_;
    display_.error(fmt::format("{}:{}: {}", name_, b.line, b.reason));
    writer_.add_bad(b);
  }

  task_reader& reader_;
  result_writer& writer_;
  std::string name_;
  progress& display_;
  size_t malformed_ = 0;
  std::vector<std::pair<uint64_t, task>> carry_;
};

// Why the tasks still in flight are unfinished.
std::string cut_short(const run_report& run, const task_reader& reader, bool all_read) {
  auto reason = run.interrupted_by != 0
                  ? "the run was interrupted by signal " + std::to_string(run.interrupted_by)
                  : "the run could not complete: " + run.fatal;
  if (!all_read)
    reason += fmt::format(" (lines after {} were not read)", reader.lines_read());
  return reason;
}

} // namespace

int run_task_job(const options& opts, progress& display, stop_signals& signals) {
  auto name = opts.tasks_file == "-" ? std::string{"stdin"} : opts.tasks_file;
  cluster c{opts, display, signals};  // first: the reader's wake-up must not outlive it
  std::unique_ptr<task_reader> reader;
  try {
    reader = std::make_unique<task_reader>(opts.tasks_file, opts.max_pending);
  } catch (const std::runtime_error& e) {
    display.error(e.what());
    return 2;
  }
  reader->start();
  result_writer writer{opts.ordered, [&](uint64_t n) { reader->release(n); }};
  stream_feed feed{*reader, writer, name, display};
  bool primed = false;
  {
    // A signal wakes the wait for the first line (a FIFO may stay silent for
    // hours): no timer.
    auto woken = signals.on_signal([r = reader.get()] { r->poke(); });
    primed = feed.prime([&] { return signals.requested(); });
  }
  if (!primed) {
    writer.flush();
    display.error("interrupted before the first task");
    return signals.exit_code();
  }
  if (!feed.has_tasks()) {
    writer.flush();
    display.error(name + " has no task to run");
    return feed.malformed() == 0 ? 0 : 1;
  }
  c.start();
  auto run = c.run(feed, [&](uint64_t line, const task_result& r) { writer.result(line, r); });
  auto all_read = feed.ended();
  reader->stop();  // before shutdown: its wake-up holds a handle on our actor
  c.shutdown();
  if (!run.complete())
    writer.unfinished(cut_short(run, *reader, all_read));
  writer.flush();
  if (opts.json)
    print_line(summary_json(run, feed.malformed()));
  return exit_code(run, feed.malformed(), name, c.description(run), display, signals);
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
