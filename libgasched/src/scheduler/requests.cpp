// What clients and nodes ask of a running scheduler: tasks in, results
// awaited, cancels, limits, nodes handed or joining, and outcomes reported.
#include <algorithm>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {


namespace {

caf::error check_task(const task& t) {
  if (t.function.empty())
    return make_error(errc::invalid_argument, "a task needs a function name");
  return caf::none;
}

// Takes a task into pending; its id, or why not.
caf::expected<task_id> accept(scheduler_self self, task& t) {
  if (auto err = check_task(t))
    return err;
  auto id = self->state.core->enqueue(t.function, std::move(t.args), t.priority);
  if (id)
    note_owner(self, *id);
  return id;
}

caf::error unknown_task(task_id id) {
  return make_error(errc::unknown_task,
                    "no pending or running task has id " + std::to_string(id));
}

} // namespace

caf::result<std::vector<task_id>> execute_batch(scheduler_self self, std::vector<task>& ts) {
  auto& st = self->state;
  for (auto& t : ts)
    if (auto err = check_task(t))
      return err;
  if (!st.core->has_room(ts.size()))
    return make_error(errc::queue_full, std::to_string(ts.size())
                                          + " tasks do not fit: max_pending is "
                                          + std::to_string(st.opts.max_pending) + ", "
                                          + std::to_string(st.core->pending()) + " pending");
  std::vector<task_id> ids;
  ids.reserve(ts.size());
  if (st.journal)
    st.journal->expect(ts.size());
  for (auto& t : ts) {
    ids.push_back(*st.core->enqueue(t.function, std::move(t.args), t.priority));
    note_owner(self, ids.back());
  }
  pump(self);
  if (!journaled(self))
    return ids;
  // Promised once the batch is on disk.
  auto rp = self->make_response_promise<std::vector<task_id>>();
  st.next_commit.batches.emplace_back(std::move(ids), rp);
  schedule_commit(self);
  return rp;
}

caf::result<task_id> execute_one(scheduler_self self, task& t) {
  auto id = accept(self, t);
  if (!id)
    return std::move(id.error());
  pump(self);
  if (!journaled(self))
    return *id;
  auto rp = self->make_response_promise<task_id>();
  self->state.unacked.emplace_back(*id, rp);
  schedule_commit(self);
  return rp;
}

// A task that is no longer pending or running: its kept result, if any.
// A task of an earlier run on the journal has no known owner: its client,
// back after the restart, must be able to await it (as it would anything).
caf::result<task_result> await_id(scheduler_self self, task_id id) {
  auto earlier_run = id < self->state.first_own_id;
  if (!self->state.core->unfinished(id)) {
    if (!journaled(self))
      return unknown_task(id);
    if (auto err = earlier_run ? caf::error{} : check_owner(self, id))
      return err;
    auto r = kept_result(self, id);
    if (!r)
      return std::move(r.error());
    return std::move(*r);
  }
  if (auto err = earlier_run ? caf::error{} : check_owner(self, id))
    return err;
  auto rp = self->make_response_promise<task_result>();
  self->state.awaiters.emplace(id, rp);
  return rp;
}

caf::result<caf::ok_atom> cancel_task(scheduler_self self, task_id id) {
  auto& st = self->state;
  if (!st.core->unfinished(id))
    return unknown_task(id);
  if (auto err = check_owner(self, id))
    return err;
  auto t = st.core->cancel(id);
  if (t->was_running)
    self->send(st.nodes[t->node].actor, cancel_atom::value, id, t->epoch);
  deliver(self, make_result(self, *t, {}, make_error(errc::cancelled)));
  pump(self);
  if (journaled(self)) {
    // Answered once the journal holds the cancellation, as a result is sent:
    // a scheduler that died before would have promised a cancel that whoever
    // resumes the journal never saw (the task would run to its end).
    auto rp = self->make_response_promise<caf::ok_atom>();
    st.next_commit.notes.push_back(rp);
    schedule_commit(self);
    return rp;
  }
  return caf::ok_atom::value;
}

std::vector<task> unfinished_tasks(scheduler_self self) {
  std::vector<task> result;
  self->state.core->for_each_unfinished(
    [&](task_id id, const std::string& fn, caf::message args, int32_t prio) {
      if (may_see(self, id))
        result.push_back(task{fn, std::move(args), prio});
    });
  return result;
}

caf::result<caf::ok_atom> stop(scheduler_self self) {
  if (auto err = check_admin(self, "stop"))
    return err;
  auto& core = *self->state.core;
  caf::error left;
  if (!core.idle()) {
    left = make_error(errc::not_empty, std::to_string(core.running()) + " running, "
                                         + std::to_string(core.pending()) + " pending");
    warn_if_unfinished(self, "stopping");
  }
  commit_now(self);  // what ended is on disk before the scheduler is gone
  fail_awaiters(self, "the scheduler stopped");
  self->quit();
  if (left)
    return left;
  return caf::ok_atom::value;
}

caf::result<caf::ok_atom> add_node_request(scheduler_self self, const caf::actor& handle) {
  if (auto err = check_admin(self, "add_node"))
    return err;
  // Clients hand nodes as plain handles: the node's interface is internal.
  auto node = caf::actor_cast<node_actor>(handle);
  if (!node)
    return make_error(errc::invalid_argument, "add_node needs a node actor");
  if (self->state.index_of.count(node.address()) > 0)
    return caf::ok_atom::value;
  auto rp = self->make_response_promise<caf::ok_atom>();
  hello(
    self, node, self->state.opts.node_timeout,
    [self, node, rp](node_info& info) mutable {
      if (auto err = add_node(self, node, info, true))
        rp.deliver(err);
      else
        rp.deliver(caf::ok_atom::value);
    },
    [self, rp](caf::error& err) mutable {
      rp.deliver(make_error(errc::node_not_found,
                            "the node did not answer: " + self->system().render(err)));
    });
  return rp;
}

// Only the node that holds a lease reports how it ended: anyone else's
// report, or a node's about another node's lease, would forge a result.
void take_outcomes(scheduler_self self, done_batch& batch) {
  auto& st = self->state;
  auto& sender = self->current_sender();  // (hashing a null address crashes)
  auto from = sender ? st.index_of.find(sender->address()) : st.index_of.end();
  if (from == st.index_of.end()) {
    log(log_level::debug, "scheduler {}: dropped results from an actor that is not its node",
        st.label);
    return;
  }
  if (journaled(self)) {
    // Every outcome the node reported, late ones too: it keeps each until
    // then, and offers it to the next scheduler if this one dies first.
    // One acknowledgement per node and commit, however many batches it sent.
    if (batch.first_seq != 0) {
      auto upto = batch.first_seq + batch.outcomes.size();
      auto& acks = st.next_commit.acks;
      auto& node = st.nodes[from->second];
      if (node.ack_at < acks.size() && acks[node.ack_at].first == node.actor) {
        acks[node.ack_at].second = std::max(acks[node.ack_at].second, upto);
      } else {
        node.ack_at = acks.size();
        acks.emplace_back(node.actor, upto);
      }
    }
    schedule_commit(self);
  }
  for (auto& o : batch.outcomes) {
    auto t = st.core->complete(o.id, o.epoch, from->second, o.value, o.error,
                               run_timing{o.run_us, o.wait_us});
    if (!t) {
      log(log_level::debug, "scheduler {}: dropped a result of task {}: late, or not from "
                            "its lease's holder", st.label, o.id);
      continue;
    }
    deliver(self, make_result(self, *t, std::move(o.value), std::move(o.error)));
  }
  pump(self, false);
  return_memory_when_idle(self, batch.outcomes.size());
}


caf::result<task_result> await_task(scheduler_self self, task& t) {
  auto id = accept(self, t);
  if (!id)
    return std::move(id.error());
  auto rp = self->make_response_promise<task_result>();
  self->state.awaiters.emplace(*id, rp);
  pump(self);
  return rp;
}

caf::result<caf::ok_atom> set_max_workers(scheduler_self self, uint32_t n) {
  if (auto err = check_admin(self, "set_max_workers"))
    return err;
  self->state.core->set_max_workers(n);
  pump(self);
  return caf::ok_atom::value;
}

caf::result<caf::ok_atom> set_retry_timeout(scheduler_self self, caf::timespan d) {
  if (auto err = check_admin(self, "set_retry_timeout"))
    return err;
  if (d.count() < 0)
    return make_error(errc::invalid_argument, "retry_timeout must not be negative");
  self->state.policy.retry_timeout = d;
  return caf::ok_atom::value;
}

caf::result<caf::ok_atom> join(scheduler_self self, node_info& info) {
  auto node = caf::actor_cast<node_actor>(self->current_sender());
  if (!node)
    return make_error(errc::invalid_argument, "join needs a sender");
  if (auto err = add_node(self, node, info, false))
    return err;
  return caf::ok_atom::value;
}

caf::result<lease_list> join(scheduler_self self, node_info& info, lease_list& held) {
  auto node = caf::actor_cast<node_actor>(self->current_sender());
  if (!node)
    return make_error(errc::invalid_argument, "join needs a sender");
  if (held.ids.size() != held.epochs.size())
    return make_error(errc::invalid_argument, "join: " + std::to_string(held.ids.size())
                                                + " task ids but "
                                                + std::to_string(held.epochs.size())
                                                + " epochs");
  lease_list adopted;
  if (auto err = add_node(self, node, info, false, &held, &adopted))
    return err;
  return adopted;
}

} // namespace gasched::detail
