// Aggregates of game events: what one task computes from one batch file and
// how the partial results of many tasks merge (event_partial.hpp: how a
// partial crosses process boundaries).
//
// Compiled into gasched-node too (through gasched_examples): the nodes
// compute the partials, gasched-run merges them and computes the same
// aggregate in one process to check the merge.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace gasched::events {

/// The progress funnel: stages a player reaches in this order.
constexpr size_t stage_count = 5;
constexpr std::array<const char*, stage_count> stage_names{"tutorial", "level_5",
                                                           "level_10", "level_25", "boss"};

/// The stage's index in stage_names, or stage_count when unknown.
size_t stage_index(std::string_view name) noexcept;

/// What is known about one game.
struct game_totals {
  uint64_t events = 0;     ///< well-formed events of this game
  uint64_t sessions = 0;   ///< session_start events
  uint64_t purchases = 0;  ///< purchase events
  int64_t revenue_cents = 0;
  /// Players with at least one event, per UTC day (days since 1970-01-01).
  /// Sets, not counts: a player is active in many batches of one day, so
  /// only a union of the sets gives exact daily active users after a merge.
  std::map<int32_t, std::set<uint32_t>> active_by_day;
  /// Players who reached each stage of the funnel (sets for the same reason).
  std::array<std::set<uint32_t>, stage_count> reached;

  /// Distinct players over the whole period.
  std::set<uint32_t> players() const;

  void merge(const game_totals& other);
  bool operator==(const game_totals& other) const;
};

/// Totals of any number of batches, by game name.
struct aggregate {
  uint64_t batches = 0;    ///< batch files aggregated
  uint64_t events = 0;     ///< well-formed events
  uint64_t malformed = 0;  ///< lines that are not an event (bad JSON, missing fields)
  std::map<std::string, game_totals> games;

  /// Counts one line of a batch file (one JSON object).
  void add_line(std::string_view line);

  /// Adds `other`'s batches. Exact: sets are united, counters added.
  void merge(const aggregate& other);

  bool operator==(const aggregate& other) const;
};

/// Reads and aggregates one batch file. Throws std::runtime_error when the
/// file cannot be read.
aggregate aggregate_file(const std::string& path);

/// Where `a` and `b` first differ, in words; empty when they are equal.
std::string first_difference(const aggregate& a, const aggregate& b);

/// "2024-01-03" for a day number (days since 1970-01-01).
std::string day_label(int32_t day);

} // namespace gasched::events
