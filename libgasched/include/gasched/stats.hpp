// A snapshot of a scheduler, as gascheduler's stats/1 gives, plus gasched's counters.
#pragma once

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

struct stats {
  // -- as gascheduler ------------------------------------------------------------
  uint64_t ticks = 0;              ///< times a task left running (result, requeue, cancel)
  uint64_t pending = 0;            ///< tasks waiting for a slot
  uint64_t running = 0;            ///< tasks on nodes now (with prefetch, also those waiting there)
  uint32_t worker_node_count = 0;  ///< nodes that are up
  uint32_t max_workers = 0;        ///< per-node cap
  uint32_t max_retries = 0;        ///< attempts per task on a node; gasched::infinity allowed
  /// Every node that is up, by running count ascending, then by name.
  std::vector<node_load> worker_nodes;

  // -- gasched's own -------------------------------------------------------------
  uint64_t max_pending = 0;   ///< bound on pending; 0 means unbounded
  uint32_t prefetch = 0;      ///< tasks per slot a node may hold beyond those it runs
  uint64_t succeeded = 0;     ///< results delivered with a value
  uint64_t failed = 0;        ///< results delivered with an error (cancelled excluded)
  uint64_t cancelled = 0;     ///< tasks ended by cancel
  uint64_t requeued = 0;      ///< times a task went back to pending because its node died
  uint64_t quarantined = 0;   ///< tasks ended with errc::node_failures
  uint64_t late_results = 0;  ///< results dropped because their lease had ended
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_load& x) {
  return f(caf::meta::type_name("gasched::node_load"), x.node, x.running, x.slots);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats& x) {
  return f(caf::meta::type_name("gasched::stats"), x.ticks, x.pending, x.running,
           x.worker_node_count, x.max_workers, x.max_retries, x.worker_nodes,
           x.max_pending, x.prefetch, x.succeeded, x.failed, x.cancelled, x.requeued,
           x.quarantined, x.late_results);
}

} // namespace gasched
