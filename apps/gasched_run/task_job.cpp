#include "gasched_run/task_job.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "gasched_run/cluster.hpp"
#include "gasched_run/journal_checkpoint.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/output_file.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/result_writer.hpp"
#include "gasched_run/run_summary.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/stream_feed.hpp"
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
  if (!serving)  // a server counts from its scheduler's stats, which keep no node's share
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

// Why the tasks still in flight are unfinished.
std::string cut_short(const run_report& run, const task_reader& reader, bool all_read) {
  auto reason = run.interrupted_by != 0
                  ? "the run was interrupted by signal " + std::to_string(run.interrupted_by)
                  : "the run could not complete: " + run.fatal;
  if (!all_read)
    reason += fmt::format(" (lines after {} were not read)", reader.lines_read());
  return reason;
}

// --journal: the record of an earlier run of this command, if any.
std::optional<run_checkpoint> load_checkpoint(cluster& c, const options& opts) {
  auto note = c.read_note(note_key);
  if (note.empty())
    return std::nullopt;
  auto cp = decode(note, opts.journal);
  check_same_output(cp, !opts.out_file.empty(), opts.journal);
  return cp;
}

// The lines an earlier run took whose result lines it had not written:
// back in the writer, in line order; the tasks' (line, id) to await.
std::vector<std::pair<uint64_t, task_id>> resume_writer(result_writer& writer,
                                                        const run_checkpoint& cp) {
  writer.resume(cp.out);
  std::vector<std::pair<uint64_t, task_id>> awaits;
  auto text = cp.texts.begin();
  for (auto& t : cp.tasks) {
    for (; text != cp.texts.end() && text->first < t.line; ++text)
      writer.add_text(text->first, text->second);
    writer.add_task(t.line, t.function);
    awaits.emplace_back(t.line, t.id);
  }
  for (; text != cp.texts.end(); ++text)
    writer.add_text(text->first, text->second);
  return awaits;
}

// Waits while the reader skips what an earlier run read; false (reported)
// when that is not the same file, or a signal came first.
bool skip_done(task_reader& reader, const std::string& journal, progress& display,
               stop_signals& signals) {
  bool resumed;
  {
    auto woken = signals.on_signal([r = &reader] { r->poke(); });
    resumed = reader.wait_resumed([&] { return signals.requested(); });
  }
  if (!resumed)
    display.error("interrupted before the first task");
  else if (auto error = reader.resume_error(); !error.empty())
    display.error(error + " (recorded in " + journal + "); nothing was changed. Give --tasks "
                  "the file of that run, or another --journal for a new run");
  return resumed && reader.resume_error().empty();
}

// A resumed run that found nothing left to do: what the batch came to.
int batch_done(const result_writer& writer, const std::string& name, const options& opts,
               progress& display) {
  auto& c = writer.counts();
  auto where = opts.out_file.empty() ? std::string{"stdout"} : opts.out_file;
  display.notice(fmt::format("{}: the batch recorded in {} is done: {} results in {} ({} "
                             "succeeded, {} failed), {} malformed lines",
                             name, opts.journal, c.ok + c.failed, where, c.ok, c.failed,
                             c.malformed));
  if (c.failed == 0 && c.malformed == 0)
    return 0;
  std::string what;
  if (c.failed > 0)
    what = fmt::format("{} of {} tasks failed", c.failed, c.ok + c.failed);
  if (c.malformed > 0)
    what += fmt::format("{}{} malformed line{} in {}", what.empty() ? "" : "; ", c.malformed,
                        c.malformed == 1 ? "" : "s", name);
  display.error(what);
  return 1;
}

// Primes the feed, runs its tasks and those an earlier run left, and says
// how the run went; its exit code.
int run_stream(cluster& c, task_reader& reader, result_writer& writer, stream_feed& feed,
               std::vector<std::pair<uint64_t, task_id>> awaits,
               const std::optional<run_checkpoint>& resumed, const std::string& name,
               const options& opts, progress& display, stop_signals& signals) {
  bool primed = false;
  {
    // A signal wakes the wait for the first line (a FIFO may stay silent for
    // hours): no timer.
    auto woken = signals.on_signal([r = &reader] { r->poke(); });
    primed = feed.prime([&] { return signals.requested(); });
  }
  if (!primed) {
    writer.flush();
    display.error("interrupted before the first task");
    return signals.exit_code();
  }
  auto journaled = !opts.journal.empty();
  if (!feed.has_tasks() && awaits.empty()) {
    if (journaled)  // the malformed lines just written, if any
      c.write_note(note_key, *feed.checkpoint({}, resumed ? resumed->max_id : 0, true));
    writer.flush();
    if (resumed)
      return batch_done(writer, name, opts, display);
    display.error(name + " has no task to run");
    return feed.malformed() == 0 ? 0 : 1;
  }
  if (!journaled)
    c.start();
  auto run = c.run(feed, [&](uint64_t line, const task_result& r) { writer.result(line, r); },
                   std::move(awaits),
                   resumed ? std::optional<task_id>{resumed->max_id} : std::nullopt);
  auto all_read = feed.ended();
  reader.stop();  // before shutdown: its wake-up holds a handle on our actor
  c.shutdown();
  // With a journal the same command finishes them: no "unfinished" lines.
  if (!run.complete() && !journaled)
    writer.unfinished(cut_short(run, reader, all_read));
  writer.flush();
  size_t malformed = feed.malformed();
  if (resumed) {  // the whole batch's counts
    run.succeeded += resumed->out.counts.ok;
    run.failed += resumed->out.counts.failed;
    run.total += resumed->out.counts.ok + resumed->out.counts.failed;
    malformed = writer.counts().malformed;
  }
  if (opts.json)
    print_line(summary_json(run, malformed));
  if (journaled && !run.complete())
    display.error(fmt::format("{} records the run: the same command started again finishes "
                              "it",
                              opts.journal));
  return exit_code(run, malformed, name, c.description(run), display, signals);
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
  auto journaled = !opts.journal.empty();
  std::optional<run_checkpoint> resumed;
  if (!opts.out_file.empty() && (!journaled || !std::filesystem::exists(opts.journal)))
    check_fresh_output(opts.out_file, opts.journal);  // before a journal is made for nothing
  if (journaled) {
    c.start();  // the scheduler reads the journal: what an earlier run did
    resumed = load_checkpoint(c, opts);
    if (resumed)
      reader->resume_after(resumed->input, resumed->held());
  }
  reader->start();
  if (resumed && !skip_done(*reader, opts.journal, display, signals))
    return signals.requested() ? signals.exit_code() : 1;
  file_ptr out_file;
  if (!opts.out_file.empty())
    out_file = open_output(opts.out_file, resumed ? &resumed->out : nullptr, opts.journal);
  if (journaled && !resumed) {
    // Before any result line: a file with lines always has a record.
    run_checkpoint fresh;
    fresh.out_file = out_file != nullptr;
    fresh.ordered = opts.ordered;
    fresh.out.hash = byte_hash{}.value();
    c.write_note(note_key, encode(fresh));
  }
  result_writer writer{opts.ordered, [&](uint64_t n) { reader->release(n); },
                       out_file ? out_file.get() : stdout};
  std::vector<std::pair<uint64_t, task_id>> awaits;
  if (resumed)
    awaits = resume_writer(writer, *resumed);
  if (resumed)
    display.notice(fmt::format("resuming the run recorded in {}: {} result lines written, {} "
                               "tasks awaited again, {} read on from line {}",
                               opts.journal, writer.counts().ok + writer.counts().failed
                                               + writer.counts().malformed,
                               awaits.size(), name, resumed->input.line + 1));
  stream_feed feed{*reader, writer, name, display, opts};
  return run_stream(c, *reader, writer, feed, std::move(awaits), resumed, name, opts, display,
                    signals);
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
  if (run.unfinished() > 0 && !opts.journal.empty()) {
    // Nothing was dropped: the journal holds them for the next start.
    display.error(fmt::format("{}; stopped by signal {} with {} task{} unfinished, kept in "
                              "the journal {}: the scheduler started again on it resumes "
                              "them",
                              served, run.interrupted_by, run.unfinished(),
                              run.unfinished() == 1 ? "" : "s", opts.journal));
    return 0;
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
