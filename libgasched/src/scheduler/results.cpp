// What the scheduler sends when a task ends, and what stats reports.
#include <algorithm>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {

task_result make_result(scheduler_self self, ended_task& t, caf::message value,
                        caf::error error) {
  auto& st = self->state;
  task_result r;
  r.scheduler = st.label;
  r.id = t.id;
  r.value = std::move(value);
  r.error = std::move(error);
  if (t.node != no_node)
    r.node = st.nodes[t.node].name;
  r.task = task{st.core->function_name(t.fn), std::move(t.args), t.priority};
  return r;
}

void deliver(scheduler_self self, task_result&& r) {
  if (journaled(self)) {
    self->state.next_commit.results.push_back(std::move(r));
    schedule_commit(self);
    return;
  }
  deliver_now(self, std::move(r));
}

void deliver_now(scheduler_self self, task_result&& r) {
  auto& st = self->state;
  if (!st.remote_owner.empty()) {
    auto owner = st.remote_owner.find(r.id);
    if (owner != st.remote_owner.end()) {
      auto node = owner->second;
      if (!journaled(self)) {
        st.remote_owner.erase(owner);  // nothing to await once it ended
      } else {
        // With a journal, its owner may await it by id later (a client that
        // lost its connection asks again): keep the last few owners.
        st.ended_owned.push_back(r.id);
        if (st.ended_owned.size() > st.ended_owners_kept) {
          st.remote_owner.erase(st.ended_owned.front());
          st.ended_owned.pop_front();
        }
      }
      // A subscriber's task goes in its batch, unless someone awaits it.
      // (The client sees it too, as it sees awaited results.)
      if (!st.subscribers.empty() && st.awaiters.count(r.id) == 0
          && st.subscribers.count(node) > 0) {
        if (st.opts.client && st.opts.notify_client_of_awaited)
          send_to_client(self, r);
        to_subscriber(self, node, r);
        return;
      }
    }
  }
  bool awaited = false;
  if (!st.awaiters.empty()) {
    auto [first, last] = st.awaiters.equal_range(r.id);
    for (auto i = first; i != last; ++i)
      i->second.deliver(r);
    awaited = first != last;
    st.awaiters.erase(first, last);
  }
  if (st.opts.client && (!awaited || st.opts.notify_client_of_awaited))
    send_to_client(self, std::move(r));
}

void fail_awaiters(scheduler_self self, const std::string& why) {
  auto& st = self->state;
  flush_subscribers(self);  // what ended reaches its subscribers before the end
  for (auto& [id, rp] : st.awaiters)
    rp.deliver(make_error(errc::cancelled, why));
  st.awaiters.clear();
}

void warn_if_unfinished(scheduler_self self, const std::string& why) {
  auto& st = self->state;
  if (!st.core->idle())
    log(log_level::warning, "scheduler {}: {} with {} running and {} pending tasks", st.label,
        why, st.core->running(), st.core->pending());
}

namespace {

std::vector<node_load> node_loads(scheduler_self self) {
  auto& st = self->state;
  auto& nodes = st.core->nodes();
  std::vector<node_load> result;
  nodes.for_each([&](node_index n) {
    result.push_back(node_load{st.nodes[n].name, nodes.running(n), nodes.capacity(n)});
  });
  // As gascheduler's stats/1: least loaded first.
  std::sort(result.begin(), result.end(), [](const node_load& a, const node_load& b) {
    return a.running != b.running ? a.running < b.running : a.node < b.node;
  });
  return result;
}

} // namespace

void tell_client(scheduler_self self) {
  auto& st = self->state;
  if (!st.opts.notify_client_of_changes || !st.opts.client || st.client_told)
    return;
  st.client_told = true;
  send_to_client(self, changed_atom::value);
}

stats make_stats(scheduler_self self) {
  auto& st = self->state;
  if (st.client_told && self->current_sender()
      && self->current_sender()->address() == st.opts.client.address())
    st.client_told = false;
  auto& core = *st.core;
  auto& count = core.count();
  stats s;
  s.ticks = count.ticks;
  s.pending = core.pending() + core.unadopted();
  s.running = core.running();
  s.worker_node_count = static_cast<uint32_t>(core.nodes().size());
  s.max_workers = core.nodes().max_workers();
  s.max_retries = st.policy.max_retries;
  s.worker_nodes = node_loads(self);
  s.max_pending = st.opts.max_pending;
  s.prefetch = st.opts.prefetch;
  s.succeeded = count.succeeded;
  s.failed = count.failed;
  s.cancelled = count.cancelled;
  s.requeued = count.requeued;
  s.reclaimed = core.reclaimed();
  s.adopted = core.adopted();
  s.unadopted = core.unadopted();
  s.quarantined = count.quarantined;
  s.late_results = count.late_results;
  s.node_joins = st.node_joins;
  s.node_losses = st.node_losses;
  s.node_rejoins = st.node_rejoins;
  s.node_events.assign(st.node_events.begin(), st.node_events.end());
  auto& timed = core.timings();
  s.queue_wait = timed.queue_wait;
  s.run_time = timed.run_time;
  s.end_to_end = timed.end_to_end;
  if (st.leader) {
    auto v = st.leader->view();
    s.role = st.journal ? "active" : "standby";
    s.generation = st.journal ? core.generation() : v.generation;
    s.takeovers = v.takeovers;
    s.active = v.active;
    if (st.journal)
      s.standbys = std::move(v.standbys);
  } else if (st.journal) {
    s.generation = core.generation();
  }
  return s;
}

} // namespace gasched::detail
