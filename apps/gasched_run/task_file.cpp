#include "gasched_run/task_file.hpp"

#include <functional>
#include <limits>
#include <set>
#include <stdexcept>
#include <vector>

#include <caf/message_builder.hpp>
#include <caf/sec.hpp>

#include "gasched/errc.hpp"
#include "gasched_run/untrusted_text.hpp"

namespace gasched::run {

namespace {

using nlohmann::json;

bool fits_int32(const json& x) {
  if (x.is_number_unsigned())
    return x.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
  auto v = x.get<int64_t>();
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}

bool fits_int64(const json& x) {
  return !x.is_number_unsigned()
         || x.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

void append_value(caf::message_builder& out, const json& x, const std::string& where);

caf::message array_as_message(const json& xs, const std::string& where) {
  caf::message_builder out;
  for (size_t i = 0; i < xs.size(); ++i)
    append_value(out, xs[i], where + "[" + std::to_string(i) + "]");
  return out.to_message();
}

template <class T>
std::vector<T> array_of(const json& xs) {
  std::vector<T> result;
  result.reserve(xs.size());
  for (auto& x : xs)
    result.push_back(x.get<T>());
  return result;
}

void append_array(caf::message_builder& out, const json& xs, const std::string& where) {
  bool all_strings = true, all_integers = true, all_numbers = true;
  bool all_int32 = true, all_int64 = true;
  for (auto& x : xs) {
    all_strings = all_strings && x.is_string();
    all_numbers = all_numbers && x.is_number();
    all_integers = all_integers && x.is_number_integer();
    if (x.is_number_integer()) {
      all_int32 = all_int32 && fits_int32(x);
      all_int64 = all_int64 && fits_int64(x);
    }
  }
  if (xs.empty() || (all_integers && all_int32))
    out.append(array_of<int32_t>(xs));
  else if (all_integers && all_int64)
    out.append(array_of<int64_t>(xs));
  else if (all_numbers)
    out.append(array_of<double>(xs));
  else if (all_strings)
    out.append(array_of<std::string>(xs));
  else
    out.append(array_as_message(xs, where));
}

void append_value(caf::message_builder& out, const json& x, const std::string& where) {
  switch (x.type()) {
    case json::value_t::boolean:
      out.append(x.get<bool>());
      break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      if (fits_int32(x))
        out.append(x.get<int32_t>());
      else if (fits_int64(x))
        out.append(x.get<int64_t>());
      else
        out.append(x.get<uint64_t>());
      break;
    case json::value_t::number_float:
      out.append(x.get<double>());
      break;
    case json::value_t::string:
      out.append(x.get<std::string>());
      break;
    case json::value_t::array:
      append_array(out, x, where);
      break;
    default:
      throw std::invalid_argument(where + ": " + std::string{x.type_name()}
                                  + " is not a supported argument (numbers, strings, "
                                    "booleans and arrays of them are)");
  }
}

template <class T>
bool put_if(out_json& out, const caf::message& msg, size_t i) {
  if (!msg.match_element<T>(i))
    return false;
  out.push_back(msg.get_as<T>(i));
  return true;
}

} // namespace

caf::message to_args(const json& args) {
  caf::message_builder out;
  for (size_t i = 0; i < args.size(); ++i)
    append_value(out, args[i], "args[" + std::to_string(i) + "]");
  return out.to_message();
}

out_json to_json(const caf::message& msg) {
  out_json out = out_json::array();
  for (size_t i = 0; i < msg.size(); ++i) {
    if (put_if<bool>(out, msg, i) || put_if<int8_t>(out, msg, i)
        || put_if<int16_t>(out, msg, i) || put_if<int32_t>(out, msg, i)
        || put_if<int64_t>(out, msg, i) || put_if<uint8_t>(out, msg, i)
        || put_if<uint16_t>(out, msg, i) || put_if<uint32_t>(out, msg, i)
        || put_if<uint64_t>(out, msg, i) || put_if<float>(out, msg, i)
        || put_if<double>(out, msg, i) || put_if<std::string>(out, msg, i)
        || put_if<std::vector<std::string>>(out, msg, i)
        || put_if<std::vector<int32_t>>(out, msg, i)
        || put_if<std::vector<int64_t>>(out, msg, i)
        || put_if<std::vector<double>>(out, msg, i))
      continue;
    if (msg.match_element<caf::message>(i))
      out.push_back(to_json(msg.get_as<caf::message>(i)));
    else
      out.push_back(msg.content().stringify(i));  // CAF's text for the rest
  }
  return out;
}

out_json value_to_json(const caf::message& value) {
  if (value.empty())
    return nullptr;
  auto all = to_json(value);
  return value.size() == 1 ? all[0] : all;
}

namespace {

// The keys of every object open while parsing, to catch a key given twice
// (nlohmann keeps the last one silently: {"fn": "a", "fn": "b"} would run b).
class duplicate_keys {
public:
  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_.back().insert(parsed.get<std::string>()).second && first_.empty())
          first_ = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  }

  const std::string& first() const noexcept {
    return first_;
  }

private:
  std::vector<std::set<std::string>> open_;
  std::string first_;
};

std::string too_long_reason() {
  return "longer than " + std::to_string(max_line_bytes) + " bytes (1 MiB): pass big inputs "
         "by file name";
}

// The line as JSON, once its bytes passed the limits: checked first, so
// neither the parser nor to_args ever sees what could exhaust them.
std::optional<json> parse_limited(const std::string& text, std::string& error) {
  if (text.size() > max_line_bytes) {
    error = too_long_reason();
    return std::nullopt;
  }
  if (auto at = invalid_utf8_at(text)) {
    error = "invalid UTF-8 at byte " + std::to_string(*at + 1);
    return std::nullopt;
  }
  if (json_nesting(text, max_nesting) > max_nesting) {
    error = "nested deeper than " + std::to_string(max_nesting) + " levels";
    return std::nullopt;
  }
  duplicate_keys keys;
  json line;
  try {
    line = json::parse(text, std::ref(keys));
  } catch (const json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    std::string what = e.what();
    auto bracket = what.find("] ");
    error = "not JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2));
    return std::nullopt;
  }
  if (!keys.first().empty()) {
    error = "duplicate key \"" + keys.first() + "\" (give each key once)";
    return std::nullopt;
  }
  return line;
}

// One field of a task line into `t`; false with `error` set when it is wrong.
bool take_field(const std::string& key, const json& value, gasched::task& t,
                std::string& error) {
  if (key == "fn") {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      error = "\"fn\" must be a function name (a non-empty string)";
      return false;
    }
    t.function = value.get<std::string>();
  } else if (key == "args") {
    if (!value.is_array()) {
      error = "\"args\" must be an array";
      return false;
    }
    try {
      t.args = to_args(value);
    } catch (const std::invalid_argument& e) {
      error = e.what();
      return false;
    }
  } else if (key == "priority") {
    if (!value.is_number_integer() || !fits_int32(value)) {
      error = "\"priority\" must be a 32-bit integer";
      return false;
    }
    t.priority = value.get<int32_t>();
  } else {
    // Strict: a misspelled "arg" must not silently run with no arguments.
    error = "unknown key \"" + key + "\" (a task has fn, args and priority)";
    return false;
  }
  return true;
}

std::optional<gasched::task> to_task(const std::string& text, std::string& error) {
  auto line = parse_limited(text, error);
  if (!line)
    return std::nullopt;
  if (!line->is_object()) {
    error = "expected an object like {\"fn\": \"hello.world\", \"args\": [1]}, got "
            + std::string{line->type_name()};
    return std::nullopt;
  }
  gasched::task t;
  for (auto& [key, value] : line->items())
    if (!take_field(key, value, t, error))
      return std::nullopt;
  if (t.function.empty()) {
    error = "missing \"fn\" (the function name)";
    return std::nullopt;
  }
  return t;
}

} // namespace

std::optional<gasched::task> parse_task_line(const std::string& text, std::string& error) {
  auto t = to_task(text, error);
  if (!t)
    error = printable(error);  // it quotes the line: shown on a terminal, written as JSON
  return t;
}

size_t line_splitter::consume(const char* data, size_t size, task_file& out) {
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      take_line(out);
      return i + 1;
    }
    if (line_.size() < max_line_bytes)
      line_.push_back(data[i]);
    else
      too_long_ = true;
    any_ = true;
  }
  return size;
}

void line_splitter::finish(task_file& out) {
  if (any_)
    take_line(out);
}

void line_splitter::take_line(task_file& out) {
  ++number_;
  auto too_long = too_long_;
  any_ = too_long_ = false;
  if (too_long) {
    out.bad.push_back(bad_line{number_, too_long_reason()});
  } else if (line_.find_first_not_of(" \t\r") != std::string::npos) {
    std::string error;
    if (auto t = parse_task_line(line_, error))
      out.tasks.push_back(task_line{number_, std::move(*t)});
    else
      out.bad.push_back(bad_line{number_, std::move(error)});
  }
  line_.clear();
}

task_file read_task_file(std::istream& in) {
  task_file result;
  line_splitter lines;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    auto n = static_cast<size_t>(in.gcount());
    for (size_t at = 0; at < n;)
      at += lines.consume(buf + at, n - at, result);
  }
  lines.finish(result);
  return result;
}

std::string error_name(const caf::error& e) {
  if (e.category() == error_category)
    return to_string(static_cast<errc>(e.code()));
  if (e.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(e.code()));
  return "error " + std::to_string(e.code());
}

out_json result_to_json(size_t line, const task_result& r) {
  out_json out;
  out["line"] = line;
  if (r.id != 0)  // 0: the scheduler never took the task
    out["id"] = r.id;
  out["fn"] = r.task.function;
  out["ok"] = r.ok();
  if (r.ok()) {
    out["value"] = value_to_json(r.value);
  } else {
    out["error"] = error_name(r.error);
    out["reason"] = describe(r.error);
  }
  if (!r.node.empty())
    out["node"] = r.node;
  return out;
}

out_json bad_line_to_json(const bad_line& b) {
  return out_json{{"line", b.line}, {"ok", false}, {"error", "malformed"}, {"reason", b.reason}};
}

} // namespace gasched::run
