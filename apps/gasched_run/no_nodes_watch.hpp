// Never hang silently: while tasks wait and no node is up to run them,
// gasched-run says so every 10 s (how many wait, since when, how nodes can
// join), and after --no-nodes-timeout it gives up. It looks from the
// progress loop, which asks the scheduler for its stats anyway: no timer
// of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace gasched::run {

class no_nodes_watch {
public:
  using clock = std::chrono::steady_clock;

  /// `timeout` 0: wait forever (and still say so every `notice_every`).
  explicit no_nodes_watch(std::chrono::seconds timeout,
                          std::chrono::seconds notice_every = std::chrono::seconds(10));

  struct verdict {
    std::string notice;  ///< a line to show now, or empty
    std::string fatal;   ///< why the run must end now, or empty
  };

  /// One look: `nodes_up` nodes are up, `pending` tasks not done.
  /// `join_address`: where nodes can join (HOST:PORT), or empty.
  verdict look(clock::time_point now, uint32_t nodes_up, uint64_t pending,
               const std::string& join_address);

private:
  std::chrono::seconds timeout_;
  std::chrono::seconds notice_every_;
  std::optional<clock::time_point> since_;  // no node up since then
  std::string since_text_;                  // the same, as a wall-clock time
  clock::time_point next_notice_{};
};

} // namespace gasched::run
