// The cluster actor: gasched-run's side of a run. It is the scheduler's
// client; it submits what the feed has, collects one result per task, looks
// at the cluster now and then (progress, nodes joining and leaving,
// supervision of the local nodes, no_nodes_watch), kills a node on request,
// records checkpoints in the journal, and hands the report to the main
// thread, which only sends it jobs (cluster_protocol.hpp) and waits.
//
//                               note (read or write): answered here
//   spawn ──> (  idle  ) ──shutdown──> ( stopping ) ──scheduler, then nodes stopped──> exit
//             |   ^    |
//         run |   |    | serve
//             v   |    v
//   ( feeding )   |   ( serving ) ──a signal, or the scheduler gone──────┐
//       |         |                                                      |
//       | the feed ended, all of it submitted   the report to the main   |
//       v         |                             thread, by its promise   |
//   ( draining )  └─────────────────────────── ( closing ) <─────────────┘
//       |                                          ^
//       └──every result in──────────────────────────┘
//   feeding and draining also close on a signal, a fatal error (a node that
//   died too often, no node for --no-nodes-timeout) or the scheduler's exit.
//   With --connect and a scheduler that has a journal, its loss is no exit:
//   feeding and draining stay, submit nothing while the active scheduler is
//   searched for, then go on with it (follow, cluster_follow.cpp).
//
// Two steps of a run are kept in run_state, not in behaviours of their own,
// since results keep coming while they go on:
//   checkpoint (--journal):  none ──feed wants one──> awaiting_ids ──every id
//     back, note sent──> note_in_flight ──answered──> none; when closing:
//     ──last note sent──> last_in_flight ──answered──> last_recorded
//   kill (--kill-node-after): armed ──N results──> killing ──stats, kill -9,
//     supervision──> done; armed ──the run has no more than N tasks──> off
//
// Looks come from a timer (look_atom) while something happens, at once when
// the scheduler says the cluster changed or a local node may have died, and
// not at all while the cluster is idle (cluster_looks.cpp). Messages that a
// state does not name (a late result while closing, a wake-up while idle)
// are dropped.
#include <caf/actor_system.hpp>
#include <caf/behavior.hpp>
#include <caf/system_messages.hpp>

#include "gasched/errc.hpp"
#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

namespace {

using behavior_type = cluster_actor::behavior_type;

// What a state does not name is dropped without an answer: CAF's own drop
// answers the sender with an error, which would end this actor (a timer of
// its own that fires late) or bother the scheduler (a result while closing).
caf::result<caf::message> drop_quietly(caf::scheduled_actor*, caf::message_view&) {
  return caf::delegated<caf::message>{};
}

behavior_type partial(caf::behavior bhvr) {
  // A state names only what it handles; the rest is dropped.
  return {behavior_type::unsafe_init{}, std::move(bhvr)};
}

behavior_type idle_behavior(cluster_self self) {
  return partial({
    [self](watch_atom) {
      auto& ctx = *self->state.ctx;
      self->monitor(ctx.sched);
      // A remote scheduler streams our tasks' results in batches; the
      // subscription is in its mailbox before any task we submit.
      if (!ctx.own_scheduler)
        subscribe(self);
    },
    [self](run_atom, job_ref<run_job> ref) { start_run(self, ref.job); },
    [self](serve_atom, job_ref<serve_job> ref) { start_serve(self, ref.job); },
    [self](note_atom, job_ref<note_job> ref) { answer_note(self, ref.job); },
    [self](shutdown_atom) { enter(self, cluster_stage::stopping); },
  });
}

behavior_type feeding_behavior(cluster_self self) {
  return partial({
    [self](follow_atom, found_scheduler& f) { on_found(self, f); },
    [self](task_result& r) { take_result(self, r.id, r); },
    [self](results_atom, std::vector<task_result>& rs) {
      for (auto& r : rs)
        take_result(self, r.id, r);
    },
    [self](feed_atom) { step(self); },
    [self](changed_atom) { look_now(self); },
    [self](signal_atom) { step(self); },
    [self](child_atom) { look_now(self); },
    [self](look_atom, uint64_t number) { on_look_due(self, number); },
    [self](quiet_atom, uint64_t run_number) { on_quiet(self, run_number); },
  });
}

behavior_type draining_behavior(cluster_self self) {
  return partial({
    [self](follow_atom, found_scheduler& f) { on_found(self, f); },
    [self](task_result& r) { take_result(self, r.id, r); },
    [self](results_atom, std::vector<task_result>& rs) {
      for (auto& r : rs)
        take_result(self, r.id, r);
    },
    [self](changed_atom) { look_now(self); },
    [self](signal_atom) { step(self); },
    [self](child_atom) { look_now(self); },
    [self](look_atom, uint64_t number) { on_look_due(self, number); },
    [self](quiet_atom, uint64_t run_number) { on_quiet(self, run_number); },
  });
}

behavior_type serving_behavior(cluster_self self) {
  return partial({
    [self](task_result& r) { serve_result(self, r); },
    [self](changed_atom) { look_now(self); },
    [self](signal_atom) { end_serve(self); },
    [self](child_atom) { look_now(self); },
    [self](look_atom, uint64_t number) { on_look_due(self, number); },
  });
}

// Closing and stopping wait for replies to their own requests only; a
// second signal ends the process anyway (stop_signals).
behavior_type waiting_behavior() {
  return partial({
    [](signal_atom) {},
  });
}

// The local nodes stop here, on the thread that restarted some of them:
// they are bound to it (PR_SET_PDEATHSIG), and would otherwise die with it.
void stop_nodes_and_quit(cluster_self self) {
  self->state.ctx->stopped_nodes = self->state.ctx->nodes.stop_all();
  self->quit();
}

// Our scheduler stops with its tasks left (an interrupted run answers an
// error: known already), so that it commits its journal; then the nodes.
void stop(cluster_self self) {
  auto& ctx = *self->state.ctx;
  if (!ctx.own_scheduler || !ctx.sched || self->state.scheduler_exit)
    return stop_nodes_and_quit(self);
  self->request(ctx.sched, std::chrono::seconds(5), stop_atom::value)
    .then([self](caf::ok_atom) { stop_nodes_and_quit(self); },
          [self](caf::error&) { stop_nodes_and_quit(self); });
}

void on_down(cluster_self self, caf::down_msg& msg) {
  auto& st = self->state;
  if (!st.ctx->sched || msg.source != st.ctx->sched.address())
    return;
  auto why = self->system().render(msg.reason);
  switch (st.stage) {
    case cluster_stage::feeding:
    case cluster_stage::draining:
      if (lose_scheduler(self, why, msg.reason))
        break;  // --connect: following the active scheduler (cluster_follow.cpp)
      st.scheduler_exit = why;
      st.run->rep.fatal = "lost the scheduler (" + why + ")";
      step(self);
      break;
    case cluster_stage::serving:
      st.scheduler_exit = why;
      st.run->rep.fatal = "the scheduler stopped (" + why + ")";
      end_serve(self);
      break;
    default:
      st.scheduler_exit = why;
      break;
  }
}

// What a handler threw (a result's output could not be written, ...) goes
// to the main thread, which is waiting for the job.
caf::error on_exception(cluster_self self, std::exception_ptr& e) {
  auto& st = self->state;
  if (st.run && st.run->report_to)
    st.run->report_to->set_exception(e);
  if (st.note_to)
    st.note_to->answer.set_exception(e);
  st.run.reset();
  st.note_to = nullptr;
  return caf::make_error(caf::sec::runtime_error);
}

behavior_type cluster_behavior(cluster_self self, cluster_context* ctx) {
  self->state.ctx = ctx;
  self->set_default_handler(drop_quietly);
  self->set_error_handler([](caf::error&) {});  // a stray error must not end the actor
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  self->set_exception_handler(
    [self](caf::scheduled_actor*, std::exception_ptr& e) { return on_exception(self, e); });
  return idle_behavior(self);
}

} // namespace

void enter(cluster_self self, cluster_stage stage) {
  self->state.stage = stage;
  switch (stage) {
    case cluster_stage::idle:
      self->become(idle_behavior(self));
      break;
    case cluster_stage::feeding:
      self->become(feeding_behavior(self));
      break;
    case cluster_stage::draining:
      self->become(draining_behavior(self));
      break;
    case cluster_stage::serving:
      self->become(serving_behavior(self));
      break;
    case cluster_stage::closing:
      self->become(waiting_behavior());
      break;
    case cluster_stage::stopping:
      self->become(waiting_behavior());
      stop(self);
      break;
  }
}

cluster_actor spawn_cluster_actor(caf::actor_system& sys, cluster_context& ctx) {
  return sys.spawn<caf::detached>(cluster_behavior, &ctx);
}

} // namespace gasched::run
