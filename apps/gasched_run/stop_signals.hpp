// Ctrl-C (SIGINT), SIGTERM and SIGHUP: they ask gasched-run to stop, and it
// then stops the node processes it started before it exits, so no process
// is left behind. A second signal exits at once (the nodes still die with
// gasched-run: they are started with PR_SET_PDEATHSIG).
//
// SIGCHLD is watched too: a local node process that died wakes the cluster
// that supervises it, so nothing has to look for dead children on a timer.
// The watcher thread sleeps until a signal comes (signalfd), and calls the
// wake-ups registered with on_signal(): an idle gasched-run never wakes up
// for signals that did not come.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace gasched::run {

class stop_signals {
public:
  /// Blocks the signals in the calling thread and every thread started after
  /// it (construct it first thing in main), and watches them on a thread of
  /// its own. Child processes unblock them again (child_process::start).
  /// Throws std::system_error when the signals cannot be watched.
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

  /// How many times SIGCHLD came: when it changed, a child process may have
  /// ended (several deaths can come as one signal).
  uint64_t child_signals() const noexcept {
    return child_signals_;
  }

  /// Calls `wake` on the watcher's thread after every signal (a stop
  /// request or SIGCHLD), once the counts above say so, until the returned
  /// handle is destroyed (which waits for a call in progress). `wake` must
  /// not block.
  class subscription {
  public:
    subscription() = default;
    subscription(subscription&& other) noexcept;
    subscription& operator=(subscription&& other) noexcept;
    subscription(const subscription&) = delete;
    subscription& operator=(const subscription&) = delete;
    ~subscription();

  private:
    friend class stop_signals;
    subscription(stop_signals* owner, uint64_t id) : owner_(owner), id_(id) {
    }
    stop_signals* owner_ = nullptr;
    uint64_t id_ = 0;
  };

  [[nodiscard]] subscription on_signal(std::function<void()> wake);

private:
  void watch();
  void unsubscribe(uint64_t id);

  std::atomic<int> signal_{0};
  std::atomic<uint64_t> child_signals_{0};
  int signal_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd: the destructor's wake-up
  std::mutex wakes_mtx_;  // held while the wake-ups run
  std::map<uint64_t, std::function<void()>> wakes_;
  uint64_t next_id_ = 1;
  std::thread watcher_;
};

} // namespace gasched::run
