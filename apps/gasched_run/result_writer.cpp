#include "gasched_run/result_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

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

result_writer::result_writer(bool ordered, std::function<void(uint64_t)> release,
                             std::FILE* out)
  : ordered_(ordered), release_(std::move(release)), out_(out) {
}

void result_writer::resume(const written_output& done) {
  hash_ = byte_hash{done.hash, done.bytes};
  counts_ = done.counts;
}

void result_writer::add_task(uint64_t line, const std::string& function) {
  if (ordered_)
    order_.push_back(entry{line, function, std::nullopt, kind::ok, std::nullopt});
  else
    function_of_.emplace(line, function);
}

void result_writer::add_bad(const bad_line& bad) {
  add_text(bad.line, dump_safely(bad_line_to_json(bad)));
}

void result_writer::add_text(uint64_t line, std::string text) {
  if (!ordered_) {
    write(text, kind::malformed);
    release_(1);
    return;
  }
  order_.push_back(entry{line, {}, std::move(text), kind::malformed, std::nullopt});
  write_in_order();
}

result_writer::entry* result_writer::find(uint64_t line) {
  // Lines enter in input order: the deque is sorted.
  auto it = std::lower_bound(order_.begin(), order_.end(), line,
                             [](const entry& e, uint64_t l) { return e.line < l; });
  return it != order_.end() && it->line == line ? &*it : nullptr;
}

void result_writer::result(uint64_t line, const task_result& r) {
  auto what = r.ok() ? kind::ok : kind::failed;
  if (!ordered_) {
    auto it = function_of_.find(line);
    if (it == function_of_.end())
      return;
    write(result_text(line, it->second, r), what);
    function_of_.erase(it);
    release_(1);
    return;
  }
  if (auto* e = find(line)) {
    e->text = result_text(line, e->function, r);
    e->what = what;
    e->id = r.id;
    write_in_order();
  }
}

void result_writer::write_in_order() {
  uint64_t written = 0;
  while (!order_.empty() && order_.front().text) {
    write(*order_.front().text, order_.front().what);
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
      if (!e.text) {
        e.text = text(e.line, e.function);
        e.what = kind::failed;
      }
    write_in_order();
  } else {
    std::vector<std::pair<uint64_t, std::string>> left{function_of_.begin(), function_of_.end()};
    std::sort(left.begin(), left.end());
    for (auto& [line, function] : left)
      write(text(line, function), kind::failed);
    function_of_.clear();
  }
  flush();
}

void result_writer::write(const std::string& text, kind what) {
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fputc('\n', out_);
  hash_.add(text.data(), text.size());
  hash_.add("\n", 1);
  ++(what == kind::ok ? counts_.ok : what == kind::failed ? counts_.failed : counts_.malformed);
  // Flushed often enough for a reader of a pipe to see results as they
  // come, seldom enough not to cost a system call per line; the run loop
  // calls flush() when results pause.
  auto now = std::chrono::steady_clock::now();
  if (now - flushed_ >= std::chrono::milliseconds(20)) {
    std::fflush(out_);
    flushed_ = now;
  }
}

void result_writer::flush() {
  std::fflush(out_);
  flushed_ = std::chrono::steady_clock::now();
}

written_output result_writer::sync() {
  if (std::fflush(out_) != 0 || std::ferror(out_))
    throw std::runtime_error(std::string{"cannot write the results: "} + std::strerror(errno));
  flushed_ = std::chrono::steady_clock::now();
  // stdout may be a pipe or a terminal (EINVAL): nothing to wait for there.
  if (::fsync(::fileno(out_)) != 0 && (out_ != stdout || (errno != EINVAL && errno != EROFS)))
    throw std::runtime_error(std::string{"cannot write the results to disk: "}
                             + std::strerror(errno));
  return written_output{hash_.bytes(), hash_.value(), counts_};
}

std::vector<held_line> result_writer::held_lines() const {
  std::vector<held_line> result;
  if (ordered_) {
    for (auto& e : order_) {
      auto bad = e.what == kind::malformed;
      result.push_back(held_line{e.line, bad ? std::string{} : e.function,
                                 bad ? std::nullopt : e.id, bad ? *e.text : std::string{}});
    }
  } else {
    for (auto& [line, function] : function_of_)
      result.push_back(held_line{line, function, std::nullopt, {}});
    std::sort(result.begin(), result.end(),
              [](const held_line& a, const held_line& b) { return a.line < b.line; });
  }
  return result;
}

} // namespace gasched::run
