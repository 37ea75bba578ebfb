// A snapshot of a scheduler, as gascheduler's stats/1 gives, plus gasched's counters.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace gasched {

/// One node's load.
struct node_load {
  std::string node;      ///< the node's name
  uint32_t running = 0;  ///< tasks of this scheduler on it now (with prefetch, also waiting)
  uint32_t slots = 0;    ///< its capacity here: min(node's slots, max_workers)
};

/// A node coming or going, as the scheduler saw it.
struct node_event {
  enum kind_t : uint8_t {
    joined = 0,    ///< first seen (joined, handed, or added)
    lost = 1,      ///< declared down: its process died, or its connection was cut or went silent
    rejoined = 2,  ///< came back under a name that was lost before
  };
  int64_t unix_ms = 0;  ///< wall-clock time, milliseconds since 1970
  std::string node;     ///< the node's name
  uint8_t kind = joined;
  std::string detail;   ///< why it was lost; empty otherwise

  static const char* kind_name(uint8_t k) noexcept {
    return k == lost ? "lost" : k == rejoined ? "rejoined" : "joined";
  }
};

/// Durations counted in fixed buckets, as a Prometheus histogram holds them.
/// Fixed bounds keep it 128 bytes, cheap to update and to send, and make
/// histograms of different schedulers add up.
struct duration_histogram {
  /// Upper bounds of the buckets in microseconds, from 100 us to an hour:
  /// about a 1-5-10 step below 10 s, then a minute, five and an hour. An
  /// observation goes in the first bucket whose bound it does not exceed
  /// (Prometheus' `le`), else in the last one (+Inf).
  static constexpr std::array<uint64_t, 14> bounds_us{
    {100, 500, 1'000, 5'000, 10'000, 50'000, 100'000, 500'000, 1'000'000, 5'000'000,
     10'000'000, 60'000'000, 300'000'000, 3'600'000'000}};

  /// Observations in each bucket (not cumulative); the last is +Inf.
  std::array<uint64_t, bounds_us.size() + 1> buckets{};
  uint64_t sum_us = 0;  ///< of all observations

  void observe(uint64_t us) noexcept {
    auto i = std::lower_bound(bounds_us.begin(), bounds_us.end(), us) - bounds_us.begin();
    ++buckets[static_cast<size_t>(i)];
    sum_us += us;
  }

  uint64_t count() const noexcept {
    uint64_t n = 0;
    for (auto x : buckets)
      n += x;
    return n;
  }
};

struct stats {
  // -- as gascheduler ------------------------------------------------------------
  uint64_t ticks = 0;              ///< times a task left running (result, requeue, cancel)
  uint64_t pending = 0;            ///< tasks waiting for a slot (or for their node's claim: unadopted)
  uint64_t running = 0;            ///< tasks on nodes now (with prefetch, also those waiting there)
  uint32_t worker_node_count = 0;  ///< nodes that are up
  uint32_t max_workers = 0;        ///< per-node cap
  uint32_t max_retries = 0;        ///< attempts per task on a node; gasched::infinity allowed
  /// Every node that is up, by running count ascending, then by name.
  std::vector<node_load> worker_nodes;

  // -- gasched's own -------------------------------------------------------------
  uint64_t max_pending = 0;   ///< bound on pending; 0 means unbounded
  uint32_t prefetch = 0;      ///< tasks per slot a node may hold beyond those it runs; gasched::adaptive_prefetch: adaptive
  uint64_t succeeded = 0;     ///< results delivered with a value
  uint64_t failed = 0;        ///< results delivered with an error (cancelled excluded)
  uint64_t cancelled = 0;     ///< tasks ended by cancel
  uint64_t requeued = 0;      ///< times a task went back to pending because its node died
  /// Tasks a node held but had not started, taken back because the node
  /// stalled while another had a free slot (adaptive prefetch); each ran once.
  uint64_t reclaimed = 0;
  /// After a restart or a takeover: tasks that were running and that their
  /// nodes, which kept running them, claimed when they joined again (each ran
  /// once); and those still waiting for a claim (counted in pending too).
  uint64_t adopted = 0;
  uint64_t unadopted = 0;
  uint64_t quarantined = 0;   ///< tasks ended with errc::node_failures
  uint64_t late_results = 0;  ///< results dropped because their lease had ended, and claims
                              ///< of a joining node the journal did not vouch for (adopt)
  uint64_t node_joins = 0;    ///< nodes that came up for the first time (joined or handed)
  uint64_t node_losses = 0;   ///< times a node was declared down
  uint64_t node_rejoins = 0;  ///< times a node came back under a name lost before
  /// The latest node joins, losses and rejoins, oldest first (at most 64).
  std::vector<node_event> node_events;

  // -- schedulers sharing a journal (scheduler_options::journal on PostgreSQL) ---
  /// "alone" (no shared journal: the only scheduler), "active" or "standby".
  std::string role = "alone";
  uint32_t generation = 0;  ///< the journal's generation: one more at every start or takeover
  uint64_t takeovers = 0;   ///< times a scheduler took over this journal from another
  std::string active;       ///< the active scheduler's address (HOST:PORT); empty if unknown
  std::vector<std::string> standbys;  ///< the standbys' addresses, as the journal lists them

  // -- timing of the tasks that ended with a result (succeeded + failed) ----------
  // Since this scheduler started: a resumed one keeps its counters, not these.
  duration_histogram queue_wait;  ///< accepted to sent to the node that gave the result
  duration_histogram run_time;    ///< in the function on the node, retries included
  duration_histogram end_to_end;  ///< accepted to result
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_event& x) {
  return f(caf::meta::type_name("gasched::node_event"), x.unix_ms, x.node, x.kind, x.detail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_load& x) {
  return f(caf::meta::type_name("gasched::node_load"), x.node, x.running, x.slots);
}

// Sent only inside stats: CAF 0.17 needs no add_message_type for it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, duration_histogram& x) {
  return f(caf::meta::type_name("gasched::duration_histogram"), x.buckets, x.sum_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats& x) {
  return f(caf::meta::type_name("gasched::stats"), x.ticks, x.pending, x.running,
           x.worker_node_count, x.max_workers, x.max_retries, x.worker_nodes,
           x.max_pending, x.prefetch, x.succeeded, x.failed, x.cancelled, x.requeued,
           x.reclaimed, x.adopted, x.unadopted, x.quarantined, x.late_results, x.node_joins, x.node_losses, x.node_rejoins,
           x.node_events, x.role, x.generation, x.takeovers, x.active, x.standbys,
           x.queue_wait, x.run_time, x.end_to_end);
}

} // namespace gasched
