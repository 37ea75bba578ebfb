// Internal: the pause between reconnect attempts, doubling from `min` to
// `max`, each drawn from [pause/2, pause] so that nodes cut off together do
// not come back in lockstep.
#pragma once

#include <algorithm>
#include <random>

#include <caf/timespan.hpp>

namespace gasched::detail {

class backoff {
public:
  backoff(caf::timespan min, caf::timespan max) : min_(min), max_(std::max(min, max)), next_(min) {
  }

  /// The pause before the next attempt; the one after it is longer.
  caf::timespan next() {
    auto pause = next_;
    next_ = std::min(next_ * 2, max_);
    thread_local std::minstd_rand rng{std::random_device{}()};
    auto half = pause.count() / 2;
    return caf::timespan{half + std::uniform_int_distribution<caf::timespan::rep>{0, half}(rng)};
  }

  /// After a success: the next episode starts with the shortest pause.
  void reset() noexcept {
    next_ = min_;
  }

private:
  caf::timespan min_;
  caf::timespan max_;
  caf::timespan next_;
};

} // namespace gasched::detail
