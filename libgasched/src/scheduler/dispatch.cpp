// Dispatches are batched per node: orders wait while more messages are
// queued (they may add to the batch) and go out when the mailbox is empty or
// at a flush message queued behind them.
#include "gasched/atoms.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {

namespace {

// Adaptive: a node with all its slots given gets its batch at once, so that
// it starts working; what it may hold beyond them can follow.
bool full(scheduler_self self, node_index n) {
  auto& core = *self->state.core;
  auto& nodes = core.nodes();
  return nodes.running(n) >= (core.adaptive() ? nodes.capacity(n) : nodes.limit(n));
}

void take_dispatches(scheduler_self self) {
  auto& st = self->state;
  st.core->dispatch([&](const dispatch_order& d) {
    auto& outbox = st.nodes[d.node].outbox.orders;
    if (outbox.empty())
      st.dirty.push_back(d.node);
    outbox.push_back(run_order{d.id, d.epoch, st.core->function_name(d.fn), d.args});
  });
}

// How often a node that holds tasks beyond its slots is checked for a stall
// while another node has a free slot.
constexpr auto reclaim_period = std::chrono::milliseconds(2);

// Held tasks of a stalled node move to free slots; its node drops them
// (their leases are fenced: a result from there is late).
void reclaim(scheduler_self self) {
  auto& st = self->state;
  auto r = st.core->reclaim();
  for (auto& f : r.moved)
    self->send(st.nodes[f.node].actor, cancel_atom::value, f.id, f.epoch);
  if (!r.moved.empty())
    take_dispatches(self);
  auto now = std::chrono::steady_clock::now();
  if (r.watch && now >= st.reclaim_check_at) {
    st.reclaim_check_at = now + reclaim_period;
    self->delayed_send(self, reclaim_period, flush_atom::value);
  }
}

} // namespace

void flush(scheduler_self self, bool only_full) {
  auto& st = self->state;
  if (!only_full)
    reclaim(self);
  auto keep = st.dirty.begin();
  for (auto n : st.dirty) {
    auto& node = st.nodes[n];
    if (node.outbox.orders.empty())
      continue;
    if (only_full && !full(self, n)) {
      *keep++ = n;
      continue;
    }
    node.outbox.policy = st.policy;
    node.outbox.capacity = st.core->nodes().capacity(n);
    self->send(node.actor, run_atom::value, std::move(node.outbox));
    node.outbox = run_batch{};
  }
  st.dirty.erase(keep, st.dirty.end());
}

// Orders go out when the mailbox is empty, or with a flush message queued
// behind everything already in the mailbox: results that are waiting there
// refill the same batches. A node that is full when new tasks arrive
// (execute) gets its batch at once, so that a long queue of executes does not
// hold back nodes that cannot take more anyway.
void pump(scheduler_self self, bool flush_full_nodes) {
  auto& st = self->state;
  if (st.core->nodes().size() == 0)
    watch_for_no_nodes(self);
  if (st.journal && st.journal->dirty())
    schedule_commit(self);
  // After a restart nothing is dispatched while the tasks that were running
  // wait for their nodes' claims: a node may also claim a pending task whose
  // dispatch the journal had not recorded yet, which must still be pending.
  if (st.claims_open && st.core->unadopted() == 0)
    st.claims_open = false;
  if (!st.claims_open)
    take_dispatches(self);
  if (st.dirty.empty()) {
    reclaim(self);  // nothing to send: maybe a node idles while another stalls
    if (st.dirty.empty())
      return;
  }
  if (self->mailbox().empty()) {
    flush(self, false);
    return;
  }
  if (flush_full_nodes)
    flush(self, true);
  if (!st.dirty.empty() && !st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

} // namespace gasched::detail
