// Internal: a node's outcomes on their way to the schedulers, batched without
// a timer. A thread that finishes the only task in hand sends its outcome
// itself (no extra hop for a lone task); while other tasks run or wait, it
// asks the node actor to send the outbox, and outcomes that finish meanwhile
// go along in the same message.
#pragma once

#include <mutex>
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

  /// Sends everything now (the node actor, when a thread asked it to).
  void flush();

  /// Drops every outcome from now on: the node is stopping, and an outcome
  /// must not reach CAF once its actor system may be gone.
  void close();

private:
  // Sends until empty; requires mtx_ held via `guard`.
  void send_all(std::unique_lock<std::mutex>& guard);

  caf::actor_addr node_;
  std::mutex mtx_;
  std::vector<std::pair<scheduler_for_nodes, run_outcome>> ready_;
  bool sending_ = false;          // a thread is sending
  bool flush_requested_ = false;  // the node actor was asked to send
  bool closed_ = false;
};

} // namespace gasched::detail
