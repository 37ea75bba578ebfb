#include "gasched_run/result_writer.hpp"

#include <algorithm>
#include <cstdio>

#include "gasched_run/untrusted_text.hpp"

namespace gasched::run {

namespace {

// A result line names the task's function even when the task never reached
// a scheduler (a remote one refused it): the writer knows it.
std::string result_text(uint64_t line, const std::string& function, const task_result& r) {
  auto j = result_to_json(line, r);
  j["fn"] = function;
  return dump_safely(j);
}

} // namespace

result_writer::result_writer(bool ordered, std::function<void(uint64_t)> release)
  : ordered_(ordered), release_(std::move(release)) {
}

void result_writer::add_task(uint64_t line, const std::string& function) {
  if (ordered_)
    order_.push_back(entry{line, function, std::nullopt});
  else
    function_of_.emplace(line, function);
}

void result_writer::add_bad(const bad_line& bad) {
  auto text = dump_safely(bad_line_to_json(bad));
  if (!ordered_) {
    write(text);
    release_(1);
    return;
  }
  order_.push_back(entry{bad.line, {}, std::move(text)});
  write_in_order();
}

result_writer::entry* result_writer::find(uint64_t line) {
  // Lines enter in input order: the deque is sorted.
  auto it = std::lower_bound(order_.begin(), order_.end(), line,
                             [](const entry& e, uint64_t l) { return e.line < l; });
  return it != order_.end() && it->line == line ? &*it : nullptr;
}

void result_writer::result(uint64_t line, const task_result& r) {
  if (!ordered_) {
    auto it = function_of_.find(line);
    if (it == function_of_.end())
      return;
    write(result_text(line, it->second, r));
    function_of_.erase(it);
    release_(1);
    return;
  }
  if (auto* e = find(line)) {
    e->text = result_text(line, e->function, r);
    write_in_order();
  }
}

void result_writer::write_in_order() {
  uint64_t written = 0;
  while (!order_.empty() && order_.front().text) {
    write(*order_.front().text);
    order_.pop_front();
    ++written;
  }
  if (written > 0)
    release_(written);
}

void result_writer::unfinished(const std::string& reason) {
  auto text = [&](uint64_t line, const std::string& function) {
    return dump_safely(out_json{{"line", line},
                                {"fn", function},
                                {"ok", false},
                                {"error", "unfinished"},
                                {"reason", reason}});
  };
  if (ordered_) {
    for (auto& e : order_)
      if (!e.text)
        e.text = text(e.line, e.function);
    write_in_order();
  } else {
    std::vector<std::pair<uint64_t, std::string>> left{function_of_.begin(), function_of_.end()};
    std::sort(left.begin(), left.end());
    for (auto& [line, function] : left)
      write(text(line, function));
    function_of_.clear();
  }
  flush();
}

void result_writer::write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  // Flushed often enough for a reader of a pipe to see results as they
  // come, seldom enough not to cost a system call per line; the run loop
  // calls flush() when results pause.
  auto now = std::chrono::steady_clock::now();
  if (now - flushed_ >= std::chrono::milliseconds(20)) {
    std::fflush(stdout);
    flushed_ = now;
  }
}

void result_writer::flush() {
  std::fflush(stdout);
  flushed_ = std::chrono::steady_clock::now();
}

} // namespace gasched::run
