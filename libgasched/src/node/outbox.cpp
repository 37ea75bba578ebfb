#include "node/outbox.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "gasched/atoms.hpp"

namespace gasched::detail {

void outbox::post(const scheduler_for_nodes& scheduler, run_outcome&& outcome,
                  bool others_in_hand) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (closed_ || !add(scheduler, std::move(outcome)))
    return;
  send_or_ask(guard, others_in_hand);
}

void outbox::post_all(std::vector<std::pair<scheduler_for_nodes, run_outcome>>& outcomes,
                      bool others_in_hand) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (closed_)
    return;
  bool any = false;
  for (auto& [dest, o] : outcomes)
    any = add(dest, std::move(o)) || any;
  if (any)
    send_or_ask(guard, others_in_hand);
}

bool outbox::add(const scheduler_for_nodes& scheduler, run_outcome&& outcome) {
  auto dest = scheduler;
  if ((!held_.empty() || !routes_.empty()) && route(dest, lease{outcome.id, outcome.epoch})) {
    kept_.emplace_back(std::move(dest), std::move(outcome));
    return false;
  }
  ready_.emplace_back(std::move(dest), std::move(outcome));
  return true;
}

void outbox::send_or_ask(std::unique_lock<std::mutex>& guard, bool others_in_hand) {
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
  kept_.clear();
  routes_.clear();
  acking_.clear();
}

// -- adoption ----------------------------------------------------------------------

bool outbox::route(scheduler_for_nodes& dest, lease l) {
  if (auto it = routes_.find(l); it != routes_.end()) {
    dest = it->second;  // adopted: its outcome goes to the scheduler that adopted it
    routes_.erase(it);
  }
  return held_.count(dest.address()) > 0;
}

void outbox::hold(const caf::actor_addr& scheduler) {
  std::lock_guard<std::mutex> guard{mtx_};
  held_.insert(scheduler);
  // Delivered but not written by it: the next scheduler may not know the
  // end, so the outcome is offered again rather than the task run again.
  if (auto it = acking_.find(scheduler); it != acking_.end()) {
    for (auto& x : it->second.unacked)
      kept_.emplace_back(std::move(x.dest), std::move(x.outcome));
    acking_.erase(it);
  }
}

bool outbox::holds(const caf::actor_addr& scheduler) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return held_.count(scheduler) > 0;
}

bool outbox::kept_for(const caf::actor_addr& scheduler, lease l) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = routes_.find(l);
  return held_.count(it != routes_.end() ? it->second.address() : scheduler) > 0;
}

std::vector<outbox::lease> outbox::kept() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<lease> result;
  result.reserve(kept_.size());
  for (auto& [dest, o] : kept_)
    result.emplace_back(o.id, o.epoch);
  return result;
}

void outbox::adopt(const scheduler_for_nodes& to, const std::vector<lease>& adopted) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (closed_)
    return;
  held_.clear();
  // Every route is to a scheduler lost by now: only what `to` adopted goes on.
  routes_.clear();
  for (auto& l : adopted)
    routes_.insert_or_assign(l, to);
  auto kept = std::move(kept_);
  kept_.clear();
  for (auto& [dest, o] : kept) {
    auto it = routes_.find(lease{o.id, o.epoch});
    if (it == routes_.end())
      continue;  // not adopted: it ran elsewhere by now
    routes_.erase(it);
    ready_.emplace_back(to, std::move(o));
  }
  if (!ready_.empty() && !sending_)
    send_all(guard);
}

void outbox::release() {
  std::lock_guard<std::mutex> guard{mtx_};
  held_.clear();
  kept_.clear();
  routes_.clear();
}

void outbox::acked(const caf::actor_addr& scheduler, uint64_t upto) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (upto == 0) {
    if (!closed_)
      acking_.try_emplace(scheduler);
    return;
  }
  auto it = acking_.find(scheduler);
  if (it == acking_.end())
    return;
  auto& q = it->second.unacked;
  while (!q.empty() && q.front().seq < upto)
    q.pop_front();
}

void outbox::forget(const caf::actor_addr& scheduler) {
  std::lock_guard<std::mutex> guard{mtx_};
  acking_.erase(scheduler);
}

void outbox::send_all(std::unique_lock<std::mutex>& guard) {
  sending_ = true;
  while (!ready_.empty() && !closed_) {
    auto batch_of = std::move(ready_);
    ready_.clear();
    if (!held_.empty()) {
      // Lost since it was posted: kept for the next scheduler instead.
      auto lost = std::stable_partition(batch_of.begin(), batch_of.end(), [&](auto& x) {
        return held_.count(x.first.address()) == 0;
      });
      for (auto i = lost; i != batch_of.end(); ++i)
        kept_.push_back(std::move(*i));
      batch_of.erase(lost, batch_of.end());
    }
    // Nearly always one scheduler; grouped without sorting, and numbered
    // here, under the lock, in the order each scheduler will receive them.
    std::vector<std::pair<scheduler_for_nodes, done_batch>> batches;
    while (!batch_of.empty()) {
      auto dest = batch_of.front().first;
      done_batch batch;
      auto rest = std::stable_partition(batch_of.begin(), batch_of.end(),
                                        [&](auto& x) { return x.first != dest; });
      for (auto i = rest; i != batch_of.end(); ++i)
        batch.outcomes.push_back(std::move(i->second));
      batch_of.erase(rest, batch_of.end());
      if (auto a = acking_.find(dest.address()); a != acking_.end()) {
        batch.first_seq = a->second.next_seq;
        for (auto& o : batch.outcomes)
          a->second.unacked.push_back(sent{a->second.next_seq++, dest, o});
      }
      batches.emplace_back(std::move(dest), std::move(batch));
    }
    guard.unlock();
    // As the node: a scheduler takes results only from the node it gave the
    // lease to.
    for (auto& [dest, batch] : batches)
      caf::send_as(caf::actor_cast<caf::actor>(node_), dest, done_atom::value, std::move(batch));
    guard.lock();
  }
  sending_ = false;
}

} // namespace gasched::detail
