#include "node/outbox.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "gasched/atoms.hpp"

namespace gasched::detail {

void outbox::post(const scheduler_for_nodes& scheduler, run_outcome&& outcome,
                  bool others_in_hand) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (closed_)
    return;
  ready_.emplace_back(scheduler, std::move(outcome));
  if (sending_)
    return;  // the thread that is sending takes it along
  if (others_in_hand) {
    // Other tasks may finish in a moment: let the node actor send them together.
    if (flush_requested_)
      return;
    flush_requested_ = true;
    if (auto node = caf::actor_cast<node_impl>(node_)) {
      guard.unlock();
      caf::anon_send(node, flush_atom::value);
      return;
    }
  }
  send_all(guard);
}

void outbox::flush() {
  std::unique_lock<std::mutex> guard{mtx_};
  flush_requested_ = false;
  if (!sending_ && !closed_)
    send_all(guard);
}

void outbox::close() {
  std::lock_guard<std::mutex> guard{mtx_};
  closed_ = true;
  ready_.clear();
}

void outbox::send_all(std::unique_lock<std::mutex>& guard) {
  sending_ = true;
  while (!ready_.empty() && !closed_) {
    auto batch_of = std::move(ready_);
    ready_.clear();
    guard.unlock();
    // Nearly always one scheduler; group without sorting.
    while (!batch_of.empty()) {
      auto dest = batch_of.front().first;
      done_batch batch;
      auto rest = std::stable_partition(batch_of.begin(), batch_of.end(),
                                        [&](auto& x) { return x.first != dest; });
      for (auto i = rest; i != batch_of.end(); ++i)
        batch.outcomes.push_back(std::move(i->second));
      batch_of.erase(rest, batch_of.end());
      // As the node: a scheduler takes results only from the node it gave
      // the lease to.
      caf::send_as(caf::actor_cast<caf::actor>(node_), dest, done_atom::value, std::move(batch));
    }
    guard.lock();
  }
  sending_ = false;
}

} // namespace gasched::detail
