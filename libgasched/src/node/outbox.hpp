// Internal: a node's outcomes on their way to the schedulers, batched without
// a timer. A thread that finishes the only task in hand sends its outcome
// itself (no extra hop for a lone task); while other tasks run or wait, it
// asks the node actor to send the outbox, and outcomes that finish meanwhile
// go along in the same message.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "wire.hpp"

namespace gasched::detail {

class outbox {
public:
  /// `node`: the actor that sends the outbox when asked (flush_atom).
  explicit outbox(caf::actor_addr node) : node_(std::move(node)) {
  }

  /// Sends `outcome` to `scheduler`, with whatever else is ready. With
  /// `others_in_hand`, more outcomes may follow in a moment: the node actor
  /// is asked to send them together.
  void post(const scheduler_for_nodes& scheduler, run_outcome&& outcome,
            bool others_in_hand);

  /// post() for several outcomes at once.
  void post_all(std::vector<std::pair<scheduler_for_nodes, run_outcome>>& outcomes,
                bool others_in_hand);

  /// Sends everything now (the node actor, when a thread asked it to).
  void flush();

  /// Drops every outcome from now on: the node is stopping, and an outcome
  /// must not reach CAF once its actor system may be gone.
  void close();

  // -- adoption: a node in join mode that lost its scheduler keeps its tasks
  // running and their outcomes here until a scheduler adopts them ----------------

  using lease = std::pair<task_id, uint32_t>;

  /// Outcomes for `scheduler` are kept from now (it is lost).
  void hold(const caf::actor_addr& scheduler);

  /// Whether outcomes for `scheduler` are kept.
  bool holds(const caf::actor_addr& scheduler) const;

  /// Whether an outcome for `scheduler` under `l` would be kept now.
  bool kept_for(const caf::actor_addr& scheduler, lease l) const;

  /// The leases of the outcomes kept.
  std::vector<lease> kept() const;

  /// The scheduler `to` adopted `adopted`: their outcomes go to it, the kept
  /// ones at once; every other kept outcome is dropped and nothing is held
  /// any more (the node cancels the tasks not adopted).
  void adopt(const scheduler_for_nodes& to, const std::vector<lease>& adopted);

  /// Nothing adopted them in time: every kept outcome is dropped, nothing held.
  void release();

  // -- acknowledgements: a scheduler with a journal says which ends it wrote;
  // until then the outcome stays here, and if that scheduler is lost it is
  // kept (hold) and offered to the next one like an outcome not yet sent ------

  /// From `scheduler`: the ends of the outcomes numbered below `upto` are
  /// durable (0: it acknowledges from now on).
  void acked(const caf::actor_addr& scheduler, uint64_t upto);

  /// `scheduler` is gone and nothing of it is kept: its unacknowledged
  /// outcomes are dropped.
  void forget(const caf::actor_addr& scheduler);

private:
  // Where an outcome for `dest` under `l` goes now; true if kept instead.
  // Requires mtx_ held.
  bool route(scheduler_for_nodes& dest, lease l);
  // Queues an outcome to send (true) or keeps it (false); requires mtx_ held.
  bool add(const scheduler_for_nodes& scheduler, run_outcome&& outcome);
  // Sends now, or asks the node to (others_in_hand); requires mtx_ held via `guard`.
  void send_or_ask(std::unique_lock<std::mutex>& guard, bool others_in_hand);
  // Sends until empty; requires mtx_ held via `guard`.
  void send_all(std::unique_lock<std::mutex>& guard);

  caf::actor_addr node_;
  mutable std::mutex mtx_;
  std::vector<std::pair<scheduler_for_nodes, run_outcome>> ready_;
  bool sending_ = false;          // a thread is sending
  bool flush_requested_ = false;  // the node actor was asked to send
  bool closed_ = false;
  // Adoption (rare; both empty otherwise, and post checks only that).
  std::unordered_set<caf::actor_addr> held_;  // lost schedulers: keep their outcomes
  std::vector<std::pair<scheduler_for_nodes, run_outcome>> kept_;
  std::map<lease, scheduler_for_nodes> routes_;  // adopted leases: their new scheduler
  // Schedulers that acknowledge (none without a journal), and what each was
  // sent and has not acknowledged yet, numbered in the order sent: an ack
  // takes from the front (no lookup per task).
  struct sent {
    uint64_t seq;
    scheduler_for_nodes dest;
    run_outcome outcome;
  };
  struct acknowledging {
    uint64_t next_seq = 1;
    std::deque<sent> unacked;
  };
  std::unordered_map<caf::actor_addr, acknowledging> acking_;
};

} // namespace gasched::detail
