#include "logging.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace gasched {

namespace {

log_level initial_level() noexcept {
  log_level level = log_level::warning;
  if (auto env = std::getenv("GASCHED_LOG"))
    parse_log_level(env, level);
  return level;
}

std::atomic<log_level>& level_ref() noexcept {
  static std::atomic<log_level> level{initial_level()};
  return level;
}

struct sink_holder {
  std::mutex mtx;
  log_sink sink;
};

sink_holder& sink_ref() {
  static sink_holder holder;
  return holder;
}

const char* label(log_level level) noexcept {
  switch (level) {
    case log_level::error: return "error";
    case log_level::warning: return "warning";
    case log_level::info: return "info";
    case log_level::debug: return "debug";
    default: return "off";
  }
}

} // namespace

void set_log_level(log_level level) noexcept {
  level_ref() = level;
}

log_level get_log_level() noexcept {
  return level_ref();
}

bool parse_log_level(const std::string& text, log_level& out) noexcept {
  for (auto level : {log_level::off, log_level::error, log_level::warning,
                     log_level::info, log_level::debug})
    if (text == label(level)) {
      out = level;
      return true;
    }
  return false;
}

void set_log_sink(log_sink sink) {
  auto& holder = sink_ref();
  std::lock_guard<std::mutex> guard{holder.mtx};
  holder.sink = std::move(sink);
}

namespace detail {

bool log_enabled(log_level level) noexcept {
  return level != log_level::off && level <= level_ref().load(std::memory_order_relaxed);
}

void log_line(log_level level, const std::string& text) {
  auto& holder = sink_ref();
  std::lock_guard<std::mutex> guard{holder.mtx};
  if (holder.sink)
    holder.sink(level, text);
  else
    std::fprintf(stderr, "gasched %s: %s\n", label(level), text.c_str());
}

} // namespace detail

} // namespace gasched
