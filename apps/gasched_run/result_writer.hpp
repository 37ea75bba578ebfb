// --tasks' output: one JSON line per line of the file that was a task (its
// result) or malformed, on stdout. It keeps only the lines in flight (their
// number and function), and with --ordered the results that wait for an
// earlier line; `release` is told of each line written, so that the reader
// may read one more (task_reader.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "gasched_run/task_file.hpp"

namespace gasched::run {

class result_writer {
public:
  result_writer(bool ordered, std::function<void(uint64_t lines)> release);

  /// A task of `line` was handed to the scheduler.
  void add_task(uint64_t line, const std::string& function);

  /// A malformed line: its result line now, or in its turn.
  void add_bad(const bad_line& bad);

  /// The result of the task of `line`.
  void result(uint64_t line, const task_result& r);

  /// A result line for every task still in flight (the run was cut short),
  /// then whatever waited for them; so that a reader of the output never
  /// takes a missing line for a success.
  void unfinished(const std::string& reason);

  /// Flushes stdout now.
  void flush();

  /// Lines in flight, waiting for their turn included.
  size_t held() const noexcept {
    return ordered_ ? order_.size() : function_of_.size();
  }

private:
  struct entry {
    uint64_t line;
    std::string function;
    std::optional<std::string> text;  // the output line, once known
  };

  void write(const std::string& text);
  void write_in_order();
  entry* find(uint64_t line);

  bool ordered_;
  std::function<void(uint64_t)> release_;
  std::deque<entry> order_;  // --ordered: every line held, in input order
  std::unordered_map<uint64_t, std::string> function_of_;  // else: tasks in flight
  std::chrono::steady_clock::time_point flushed_ = std::chrono::steady_clock::now();
};

} // namespace gasched::run
