// Ctrl-C (SIGINT), SIGTERM and SIGHUP: they ask gasched-run to stop, and it
// then stops the node processes it started before it exits, so no process
// is left behind. A second signal exits at once (the nodes still die with
// gasched-run: they are started with PR_SET_PDEATHSIG).
#pragma once

#include <atomic>
#include <thread>

namespace gasched::run {

class stop_signals {
public:
  /// Blocks the signals in the calling thread and every thread started after
  /// it (construct it first thing in main), and watches them on a thread of
  /// its own. Child processes unblock them again (child_process::start).
  stop_signals();
  ~stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// Whether a signal asked to stop.
  bool requested() const noexcept {
    return signal_ != 0;
  }

  /// The signal that asked, or 0.
  int signal() const noexcept {
    return signal_;
  }

  /// The conventional exit code after that signal: 128 + its number.
  int exit_code() const noexcept {
    return 128 + signal_;
  }

private:
  std::atomic<int> signal_{0};
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

} // namespace gasched::run
