// Finding the active scheduler among several addresses: schedulers that
// share a journal publish one address each; one is active, the others are
// standbys that answer errc::standby naming the active's address. Nodes
// (node_options::join) and clients (connect_scheduler with a list) try the
// addresses in turn, go first to the one a standby names, and pause between
// rounds that found none (bounded backoff), so that they are back with the
// active scheduler within about a second of a takeover.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "gasched/net.hpp"
#include "gasched/scheduler_actor.hpp"

namespace gasched {

/// Parses "A,B,C", each a HOST:PORT (parse_address). Nothing when the list
/// is empty or one of them is not an address; `bad` then names it.
std::optional<std::vector<address>> parse_addresses(const std::string& text,
                                                    std::string* bad = nullptr);

/// "HOST:PORT".
std::string to_string(const address& a);

/// An errc::standby error: `sentence` says who refused, `active` is the
/// active scheduler's "HOST:PORT" (empty when none is known).
caf::error make_standby_error(std::string sentence, std::string active);

/// The active scheduler's address that an errc::standby error names; nothing
/// for any other error, or when it names none.
std::optional<address> standby_active(const caf::error& e);

/// Which address to try next: the one a standby named, else the next in the
/// list, round after round. A round ends after as many attempts as there are
/// addresses; the caller pauses then (and only then).
class active_search {
public:
  explicit active_search(std::vector<address> candidates);

  /// The address to try now.
  const address& next();
  /// A standby named `active` (or a stepped-down scheduler did): tried next.
  void follow(const address& active);
  /// Whether every address was tried since the last pause or success.
  bool round_over() const noexcept;
  /// After the pause between rounds, or a success: a new round.
  void new_round() noexcept;
  const std::vector<address>& candidates() const noexcept {
    return candidates_;
  }

private:
  std::vector<address> candidates_;
  size_t next_ = 0;
  size_t tried_ = 0;
  std::optional<address> hint_;
  address current_;
};

struct active_search_options {
  /// Pause between rounds that found no active scheduler: doubling from
  /// retry_min to retry_max.
  caf::timespan retry_min = std::chrono::milliseconds(100);
  caf::timespan retry_max = std::chrono::seconds(1);
  /// How long one address may take to answer.
  caf::timespan attempt_timeout = std::chrono::seconds(2);
  /// Give up (errc::network_error naming every address) after this long
  /// without an active scheduler.
  caf::timespan give_up = std::chrono::seconds(60);
  /// Set by another thread: the search ends at the next address or within
  /// 50 ms of a pause, with errc::cancelled (a program that is told to stop
  /// must not wait for give_up).
  std::shared_ptr<const std::atomic<bool>> cancel;
};

/// The active scheduler among `addresses`: connects to each in turn, skips
/// those that refuse or say standby (going to the active they name first),
/// and returns the first that answers as active. Blocks the calling thread
/// (not an actor's). Errors: errc::network_error after opts.give_up, naming
/// what each address said last. `found`, when given, gets the address.
caf::expected<scheduler_actor> connect_scheduler(caf::actor_system& sys,
                                                 const std::vector<address>& addresses,
                                                 const active_search_options& opts = {},
                                                 address* found = nullptr);

} // namespace gasched
