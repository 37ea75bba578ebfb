// --tasks' output: one JSON line per line of the file that was a task (its
// result) or malformed, on stdout or in --out's file. It keeps only the
// lines in flight (their number and function), and with --ordered the
// results that wait for an earlier line; `release` is told of each line
// written, so that the reader may read one more (task_reader.hpp). For a
// journaled run it tells what is written and durable, and what is held
// (journal_checkpoint.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gasched_run/byte_hash.hpp"
#include "gasched_run/task_file.hpp"

namespace gasched::run {

/// Result lines written so far, by kind.
struct written_counts {
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t malformed = 0;
};

/// What the output holds, once sync() returned.
struct written_output {
  uint64_t bytes = 0;
  uint64_t hash = 0;
  written_counts counts;
};

/// A line whose result line is not written yet.
struct held_line {
  uint64_t line = 0;
  std::string function;       ///< a task's; empty for a malformed line
  std::optional<task_id> id;  ///< a task's whose result came (--ordered)
  std::string text;           ///< a malformed line's output (--ordered)
};

class result_writer {
public:
  /// Writes to `out` (stdout, or --out's file: then sync() also fsyncs it).
  result_writer(bool ordered, std::function<void(uint64_t lines)> release,
                std::FILE* out = stdout);

  /// Goes on after `done`: the output already holds it (a resumed run).
  void resume(const written_output& done);

  /// A task of `line` was handed to the scheduler.
  void add_task(uint64_t line, const std::string& function);

  /// A malformed line: its result line now, or in its turn.
  void add_bad(const bad_line& bad);

  /// A malformed line's result line, as an earlier run made it.
  void add_text(uint64_t line, std::string text);

  /// The result of the task of `line`.
  void result(uint64_t line, const task_result& r);

  /// A result line for every task still in flight (the run was cut short),
  /// then whatever waited for them; so that a reader of the output never
  /// takes a missing line for a success.
  void unfinished(const std::string& reason);

  /// Flushes the output now.
  void flush();

  /// Flushes, and with a file waits until it is on disk: what it holds.
  /// Throws std::runtime_error when the file cannot be written.
  written_output sync();

  /// The lines whose result line is not written, in line order.
  std::vector<held_line> held_lines() const;

  /// Lines in flight, waiting for their turn included.
  size_t held() const noexcept {
    return ordered_ ? order_.size() : function_of_.size();
  }

  const written_counts& counts() const noexcept {
    return counts_;
  }

private:
  enum class kind : uint8_t { ok, failed, malformed };

  struct entry {
    uint64_t line;
    std::string function;
    std::optional<std::string> text;  // the output line, once known
    kind what = kind::ok;
    std::optional<task_id> id;
  };

  void write(const std::string& text, kind what);
  void write_in_order();
  entry* find(uint64_t line);

  bool ordered_;
  std::function<void(uint64_t)> release_;
  std::FILE* out_;
  byte_hash hash_;  // of every byte the output holds
  written_counts counts_;
  std::deque<entry> order_;  // --ordered: every line held, in input order
  std::unordered_map<uint64_t, std::string> function_of_;  // else: tasks in flight
  std::chrono::steady_clock::time_point flushed_ = std::chrono::steady_clock::now();
};

} // namespace gasched::run
