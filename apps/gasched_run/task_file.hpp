// --tasks FILE: tasks written as JSON, one a line, and their results printed
// as JSON lines.
//
//   {"fn": "hello.world", "args": [1], "priority": 5}
//
// JSON values become the C++ types a registered function takes, by these
// rules (a function whose parameters differ gets errc::bad_arguments):
//   integer            -> int32_t when it fits, else int64_t (else uint64_t)
//   number with a . or exponent -> double
//   string -> std::string;  true/false -> bool
//   array of strings   -> std::vector<std::string>
//   array of integers  -> std::vector<int32_t> when all fit, else std::vector<int64_t>
//   array of numbers   -> std::vector<double> (when any is not an integer)
//   empty array        -> std::vector<int32_t>
//   any other array (booleans, mixed, nested) -> caf::message of its elements
// These are all types every gasched process can send (gasched::init).
//
// The file is untrusted input: a line is refused (reported with its number;
// the other lines still run) when it is longer than max_line_bytes, is not
// valid UTF-8, nests brackets deeper than max_nesting, is not JSON, gives a
// key twice, or is not a task.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gasched/task.hpp"

namespace gasched::run {

/// Limits on one line: checked before parsing, so that no line, however
/// hostile, can exhaust memory or the stack (deep nesting would otherwise
/// recurse in to_args and in CAF's serialization of nested messages).
inline constexpr size_t max_line_bytes = size_t{1} << 20;
inline constexpr size_t max_nesting = 64;

/// One task of the file, with the line it came from.
struct task_line {
  size_t line = 0;
  gasched::task task;
};

/// A line that is not a task, and why.
struct bad_line {
  size_t line = 0;
  std::string reason;
};

struct task_file {
  std::vector<task_line> tasks;
  std::vector<bad_line> bad;
};

/// Bytes in, lines out, for a stream read piece by piece: each complete
/// line is parsed (as read_task_file does) into `out`. A line longer than
/// max_line_bytes is read to its end but not kept, and reported.
class line_splitter {
public:
  /// Takes bytes up to and including the first newline (parsing that line
  /// into `out`), or all of them; returns how many it took.
  size_t consume(const char* data, size_t size, task_file& out);

  /// The end of the input: a last line without a newline is parsed.
  void finish(task_file& out);

  /// Lines seen so far (blank ones included).
  size_t lines() const noexcept {
    return number_;
  }

  /// Numbers the next line `lines + 1`: the first `lines` were skipped.
  void resume_at(size_t lines) noexcept {
    number_ = lines;
  }

private:
  void take_line(task_file& out);

  std::string line_;
  size_t number_ = 0;
  bool too_long_ = false;
  bool any_ = false;  // bytes of an unfinished line, kept or not
};

/// Reads every line, up to the end of `in` (a file, a pipe, a FIFO); blank
/// lines are skipped. Never throws on the content.
task_file read_task_file(std::istream& in);

/// One line as a task; nullopt and `error` set when it is not one (`error`
/// is printable: control characters and stray bytes escaped, cut short).
std::optional<gasched::task> parse_task_line(const std::string& text, std::string& error);

/// A JSON array of arguments as a message, by the rules above. Throws
/// std::invalid_argument naming the offending argument.
caf::message to_args(const nlohmann::json& args);

/// Output keeps the order fields are written in: "line" first reads best.
using out_json = nlohmann::ordered_json;

/// A message's elements as JSON (types CAF knows but JSON does not become
/// their CAF text form).
out_json to_json(const caf::message& msg);

/// A task's value for printing: null for no value, the element itself for
/// one, an array for several.
out_json value_to_json(const caf::message& value);

/// {"line":N,"id":..,"fn":..,"ok":true,"value":..,"node":..} or with
/// "ok":false, "error": the code's name, "reason": its description. "id"
/// and "node" are left out when the task never reached the scheduler or a node.
out_json result_to_json(size_t line, const task_result& r);

/// {"line":N,"ok":false,"error":"malformed","reason":..}
out_json bad_line_to_json(const bad_line& b);

/// An error's short name: "max_retries", or CAF's code name.
std::string error_name(const caf::error& e);

} // namespace gasched::run
