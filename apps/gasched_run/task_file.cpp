#include "gasched_run/task_file.hpp"

#include <limits>
#include <stdexcept>

#include <caf/message_builder.hpp>
#include <caf/sec.hpp>

#include "gasched/errc.hpp"

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

std::optional<gasched::task> parse_task_line(const std::string& text, std::string& error) {
  json line;
  try {
    line = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    std::string what = e.what();
    auto bracket = what.find("] ");
    error = "not JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2));
    return std::nullopt;
  }
  if (!line.is_object()) {
    error = "expected an object like {\"fn\": \"hello.world\", \"args\": [1]}, got "
            + std::string{line.type_name()};
    return std::nullopt;
  }
  gasched::task t;
  for (auto& [key, value] : line.items()) {
    if (key == "fn") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        error = "\"fn\" must be a function name (a non-empty string)";
        return std::nullopt;
      }
      t.function = value.get<std::string>();
    } else if (key == "args") {
      if (!value.is_array()) {
        error = "\"args\" must be an array";
        return std::nullopt;
      }
      try {
        t.args = to_args(value);
      } catch (const std::invalid_argument& e) {
        error = e.what();
        return std::nullopt;
      }
    } else if (key == "priority") {
      if (!value.is_number_integer() || !fits_int32(value)) {
        error = "\"priority\" must be a 32-bit integer";
        return std::nullopt;
      }
      t.priority = value.get<int32_t>();
    } else {
      // Strict: a misspelled "arg" must not silently run with no arguments.
      error = "unknown key \"" + key + "\" (a task has fn, args and priority)";
      return std::nullopt;
    }
  }
  if (t.function.empty()) {
    error = "missing \"fn\" (the function name)";
    return std::nullopt;
  }
  return t;
}

task_file read_task_file(std::istream& in) {
  task_file result;
  std::string text;
  size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string error;
    if (auto t = parse_task_line(text, error))
      result.tasks.push_back(task_line{number, std::move(*t)});
    else
      result.bad.push_back(bad_line{number, std::move(error)});
  }
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
