// Internal: one episode of reaching a lost peer again, as the scheduler
// reconnects a node it was handed by address and a node in join mode rejoins
// its scheduler: the pause before each attempt (net/backoff.hpp), since when,
// how many attempts, and whether a failure was logged. The first failure of
// an episode is a warning, the rest debug: a wait must be reported, but not
// ten times a second.
#pragma once

#include <chrono>
#include <cstdint>

#include <caf/timespan.hpp>

#include "gasched/log.hpp"
#include "net/backoff.hpp"

namespace gasched::detail {

class reconnect_episode {
public:
  /// An episode that starts now, its pauses from `min_pause` to `max_pause`.
  reconnect_episode(caf::timespan min_pause, caf::timespan max_pause)
    : pause_(min_pause, max_pause), since_(std::chrono::steady_clock::now()) {
  }

  /// A new episode: from now, no attempt, nothing logged, the shortest pause.
  void restart() {
    pause_.reset();
    since_ = std::chrono::steady_clock::now();
    attempts_ = 0;
    warned_ = false;
  }

  /// The pause before the next attempt; the one after it is longer.
  caf::timespan next_pause() {
    return pause_.next();
  }

  /// An attempt starts.
  void attempt() noexcept {
    ++attempts_;
  }

  /// The level to log a failed attempt at: warning once, then debug.
  log_level failure_level() noexcept {
    auto level = warned_ ? log_level::debug : log_level::warning;
    warned_ = true;
    return level;
  }

  uint32_t attempts() const noexcept {
    return attempts_;
  }

  /// Whether a failure of this episode was logged as a warning already.
  bool warned() const noexcept {
    return warned_;
  }

  /// Seconds since the episode started.
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
  }

private:
  backoff pause_;
  std::chrono::steady_clock::time_point since_;
  uint32_t attempts_ = 0;
  bool warned_ = false;
};

} // namespace gasched::detail
