#include "gasched_run/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace gasched::run {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

namespace {

std::string duration_text(double s) {
  if (s < 60)
    return fmt::format("{:.1f}s", s);
  auto whole = static_cast<long>(s);
  if (whole < 3600)
    return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

// "520/s", "7.5/s"
std::string rate_text(double rate) {
  return rate >= 100 ? fmt::format("{:.0f}", rate) : fmt::format("{:.1f}", rate);
}

size_t terminal_width() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

// Seconds left at `rate`, or a negative number when unknown: from the total
// when it is known, else from the share of a regular file read so far.
double eta_seconds(const progress_counts& c, double rate) {
  if (rate <= 0)
    return -1;
  if (c.total > 0)
    return c.done < c.total ? static_cast<double>(c.total - c.done) / rate : -1;
  auto share = c.read_share();
  if (share <= 0)
    return -1;
  auto expected = static_cast<double>(c.submitted) / share;
  return expected > static_cast<double>(c.done) ? (expected - static_cast<double>(c.done)) / rate
                                                : -1;
}

// ", 42% read" while a regular file is read; nothing for a stream.
std::string read_text(const progress_counts& c) {
  auto share = c.read_share();
  return share < 0 ? std::string{} : fmt::format(", {:.0f}% read", share * 100);
}

} // namespace

progress::style progress::pick(const std::string& name, bool quiet) {
  if (quiet || name == "off")
    return style::off;
  if (name == "bar")
    return style::bar;
  if (name == "lines")
    return style::lines;
  return isatty(STDERR_FILENO) ? style::bar : style::lines;
}

progress::progress(style s, bool notices, std::chrono::milliseconds line_every)
  : style_(s), notices_(notices), line_every_(line_every) {
  start();
}

void progress::start() {
  std::lock_guard<std::mutex> guard{mtx_};
  started_ = std::chrono::steady_clock::now();
  cells_ = 0;
  next_line_ = started_ + line_every_;
}

std::string progress::render_line(const progress_counts& c) const {
  auto elapsed = seconds_since(started_);
  auto rate = elapsed > 0 ? static_cast<double>(c.done) / elapsed : 0.0;
  std::string text = c.total > 0 ? fmt::format("{}/{} done", c.done, c.total)
                                 : fmt::format("{} done", c.done);
  text += fmt::format(", {} running, {} pending, {} failed, {} node{}, {} tasks/s{}", c.running,
                      c.pending, c.failed, c.nodes, c.nodes == 1 ? "" : "s", rate_text(rate),
                      read_text(c));
  if (auto eta = eta_seconds(c, rate); eta >= 0)
    text += ", ETA " + duration_text(eta);
  return text;
}

std::string progress::render_counts(const progress_counts& c, double rate,
                                    const std::string& eta) const {
  if (c.total == 0)
    return fmt::format(" {} done, {} running, {} pending, {} failed, {} node{}, {}/s{}{}",
                       c.done, c.running, c.pending, c.failed, c.nodes,
                       c.nodes == 1 ? "" : "s", rate_text(rate), read_text(c),
                       eta.empty() ? "" : ", " + eta);
  return fmt::format(" {}/{} done, {} running, {} pending, {} failed, {}/s, {}", c.done,
                     c.total, c.running, c.pending, c.failed, rate_text(rate), eta);
}

std::string progress::render_bar(const progress_counts& c) {
  auto elapsed = seconds_since(started_);
  auto rate = elapsed > 0 ? static_cast<double>(c.done) / elapsed : 0.0;
  std::string eta = c.total > 0 || c.read_share() >= 0 ? "ETA -" : "";
  if (c.total > 0 && c.done >= c.total)
    eta = "in " + duration_text(elapsed);
  else if (auto left = eta_seconds(c, rate); left >= 0)
    eta = "ETA " + duration_text(left);
  auto counts = render_counts(c, rate, eta);
  auto width = terminal_width() - 1;  // the last column would wrap on some terminals
  if (c.total > 0 && cells_ == 0) {
    // Sized once per run, for typical counts: a bar that grew and shrank
    // with the text would jitter. Too narrow a terminal gets no bar.
    progress_counts typical = c;
    typical.done = typical.pending = c.total;
    typical.running = 99;
    typical.failed = 9;
    auto room = static_cast<long>(width) - 2
                - static_cast<long>(render_counts(typical, 999, "ETA 9.9s").size());
    cells_ = static_cast<size_t>(std::clamp(room, 0L, 30L));
  }
  if (c.total == 0 && c.read_share() >= 0 && cells_ == 0)
    cells_ = static_cast<size_t>(std::clamp(static_cast<long>(width) - 92, 0L, 30L));  // typical text
  std::string bar;
  auto share = c.total > 0 ? static_cast<double>(std::min(c.done, c.total)) / c.total
                           : c.read_share();
  if (share >= 0 && cells_ >= 10) {
    auto full = static_cast<size_t>(static_cast<double>(cells_) * std::min(share, 1.0));
    bar = "[" + std::string(full, '#') + std::string(cells_ - full, '.') + "]";
  }
  auto text = bar + counts;
  if (text.size() > width)
    text.resize(width);
  return text;
}

void progress::clear_bar() {
  if (bar_shown_) {
    std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }
}

void progress::update(const progress_counts& counts) {
  std::lock_guard<std::mutex> guard{mtx_};
  last_ = counts;
  updated_ = true;
  if (style_ == style::bar) {
    std::fprintf(stderr, "\r\033[K%s", render_bar(counts).c_str());
    std::fflush(stderr);
    bar_shown_ = true;
  } else if (style_ == style::lines) {
    auto now = std::chrono::steady_clock::now();
    // An idle server would repeat itself forever: say only what changed.
    if (now < next_line_ || (last_line_ && *last_line_ == counts))
      return;
    next_line_ = now + line_every_;
    last_line_ = counts;
    std::fprintf(stderr, "gasched-run: %s\n", render_line(counts).c_str());
  }
}

bool progress::settled() {
  std::lock_guard<std::mutex> guard{mtx_};
  return style_ != style::lines || !updated_ || (last_line_ && *last_line_ == last_);
}

std::chrono::steady_clock::time_point progress::line_due() {
  std::lock_guard<std::mutex> guard{mtx_};
  return next_line_;
}

void progress::notice(const std::string& text) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (notices_)
    print_over_bar("gasched-run: " + text);
}

void progress::raw(const std::string& text) {
  std::lock_guard<std::mutex> guard{mtx_};
  print_over_bar(text);
}

void progress::print_over_bar(const std::string& line) {
  auto redraw = bar_shown_;
  clear_bar();
  std::fprintf(stderr, "%s\n", line.c_str());
  if (redraw) {
    std::fprintf(stderr, "%s", render_bar(last_).c_str());
    bar_shown_ = true;
  }
  std::fflush(stderr);
}

void progress::error(const std::string& text) {
  std::lock_guard<std::mutex> guard{mtx_};
  clear_bar();
  std::fprintf(stderr, "gasched-run: %s\n", text.c_str());
  std::fflush(stderr);
}

void progress::finish() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (style_ == style::bar && bar_shown_) {
    // Leave the last bar on screen: it is the run's final state.
    std::fputc('\n', stderr);
    bar_shown_ = false;
  }
  std::fflush(stderr);
}

} // namespace gasched::run
