// What gasched-run shows on stderr while it works: a live bar on a terminal,
// a plain line every few seconds otherwise (logs, CI), nothing with --quiet.
// Notices (a node killed, a node joined, a task failed) go through here too,
// so that they do not tear the bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace gasched::run {

/// Seconds from `t` until now.
double seconds_since(std::chrono::steady_clock::time_point t);

/// Counts of one run. total 0 means unknown (serving remote clients).
struct progress_counts {
  uint64_t total = 0;
  uint64_t done = 0;     ///< results received, failures included
  uint64_t failed = 0;   ///< results that are errors
  uint64_t running = 0;  ///< on nodes now
  uint64_t pending = 0;  ///< waiting for a slot
  uint32_t nodes = 0;    ///< nodes up
  /// Tasks still being read (total unknown): what was read of the input, of
  /// its size (0: a stream, no ETA), and the tasks submitted so far.
  bool streaming = false;
  uint64_t bytes_read = 0;
  uint64_t bytes_total = 0;
  uint64_t submitted = 0;

  bool operator==(const progress_counts& o) const noexcept {
    return total == o.total && done == o.done && failed == o.failed && running == o.running
           && pending == o.pending && nodes == o.nodes && streaming == o.streaming
           && bytes_read == o.bytes_read && submitted == o.submitted;
  }

  /// The share of the input read, or -1 when unknown.
  double read_share() const noexcept {
    return streaming && bytes_total > 0
             ? static_cast<double>(bytes_read) / static_cast<double>(bytes_total)
             : -1.0;
  }
};

class progress {
public:
  enum class style { off, bar, lines };

  /// "auto" picks bar when stderr is a terminal, lines otherwise.
  static style pick(const std::string& name, bool quiet);

  /// `notices`: whether notice() prints (not with --quiet).
  progress(style s, bool notices, std::chrono::milliseconds line_every);

  /// Starts the clock that rate and ETA are measured from.
  void start();

  /// New counts: redraws the bar, or prints a line when one is due.
  void update(const progress_counts& counts);

  /// A line for the user ("gasched-run: ..."), unless quiet. Thread-safe: the
  /// gasched log sink calls it from CAF's threads.
  void notice(const std::string& text);

  /// A line as it is (a node's log line), shown like a notice but even with
  /// notices off: the caller decides.
  void raw(const std::string& text);

  /// Clears the bar, for good (before the summary is printed).
  void finish();

  /// A line that is printed even with --quiet: errors.
  void error(const std::string& text);

  bool is_bar() const noexcept {
    return style_ == style::bar;
  }

  /// Whether the counts of the last update() are on screen: plain lines
  /// come at most every `line_every`, so the last change may wait for one.
  bool settled();

  /// When the next plain line may be printed.
  std::chrono::steady_clock::time_point line_due();

private:
  std::string render_counts(const progress_counts& c, double rate,
                            const std::string& eta) const;
  std::string render_bar(const progress_counts& c);
  std::string render_line(const progress_counts& c) const;
  void clear_bar();
  // A line above the bar, the bar redrawn under it; with mtx_ held.
  void print_over_bar(const std::string& line);

  style style_;
  bool notices_;
  std::chrono::milliseconds line_every_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point next_line_;
  std::mutex mtx_;
  bool bar_shown_ = false;
  size_t cells_ = 0;  // of the bar, fixed per run
  progress_counts last_;
  bool updated_ = false;  // last_ holds counts
  std::optional<progress_counts> last_line_;  // what the last plain line said
};

} // namespace gasched::run
