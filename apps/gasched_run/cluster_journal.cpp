// --journal in the cluster actor: the checkpoints of a run
// (journal_checkpoint.hpp holds what they record), an earlier run's tasks
// awaited again, and the notes the main thread reads and writes. Notes go
// to the scheduler from this one actor, one at a time, so that an older
// note can never land after a newer one; results keep coming while the
// scheduler commits them.
#include "gasched/errc.hpp"
#include "gasched_run/cluster_state.hpp"
#include "gasched_run/journal_checkpoint.hpp"

namespace gasched::run {

using namespace std::chrono_literals;

namespace {

// How long a note may take to be committed.
constexpr auto note_timeout = 30s;

std::string note_error(const caf::error& e) {
  if (e == caf::sec::request_timeout)
    return "no answer from the scheduler in 30 s";
  return describe(e);
}

// Sends the feed's note; its answer goes to the feed, and moves the
// checkpoint on (to none, or to last_recorded after the last note).
void send_note(cluster_self self, std::string note, checkpoint_step in_flight) {
  auto& run = *self->state.run;
  run.checkpoint = in_flight;
  auto number = run.number;
  auto answered = [self, number](const std::string& error) {
    if (!current(self, number))
      return;
    auto& run = *self->state.run;
    run.feed->checkpointed(error);
    switch (run.checkpoint) {
      case checkpoint_step::note_in_flight:
        run.checkpoint = checkpoint_step::none;
        break;
      case checkpoint_step::last_in_flight:
        run.checkpoint = checkpoint_step::last_recorded;
        break;
      default:
        return;  // closing did without it: the checkpoint before stands
    }
    if (self->state.stage != cluster_stage::closing)
      step(self);
    else if (last_checkpoint(self))
      finish_job(self);
  };
  self->request(self->state.ctx->sched, note_timeout, note_atom::value,
                std::string{note_key}, std::move(note))
    .then([answered](caf::ok_atom) { answered({}); },
          [answered](caf::error& e) { answered(note_error(e)); });
}

} // namespace

bool journaled(cluster_self self) {
  auto& ctx = *self->state.ctx;
  return ctx.own_scheduler && !ctx.opts.journal.empty();
}

void answer_note(cluster_self self, note_job* job) {
  auto& st = self->state;
  st.note_to = job;
  auto done = [self, job](std::string value, const std::string& error) {
    self->state.note_to = nullptr;
    if (error.empty())
      job->answer.set_value(std::move(value));
    else
      job->answer.set_exception(std::make_exception_ptr(std::runtime_error(error)));
  };
  if (!job->value) {
    self->request(st.ctx->sched, note_timeout, note_atom::value, job->key)
      .then([done](std::string& v) { done(std::move(v), {}); },
            [done](caf::error& e) { done({}, note_error(e)); });
    return;
  }
  self->request(st.ctx->sched, note_timeout, note_atom::value, job->key, *job->value)
    .then([done](caf::ok_atom) { done({}, {}); },
          [done](caf::error& e) { done({}, note_error(e)); });
}

// An earlier run's tasks: awaited by id, their results keyed as before.
void await_resumed(cluster_self self, std::vector<std::pair<uint64_t, task_id>>& resumed) {
  auto& run = *self->state.run;
  auto number = run.number;
  for (auto& [key, id] : resumed) {
    run.key_of.emplace(id, key);
    run.max_id = std::max(run.max_id, id);
    self->request(self->state.ctx->sched, caf::infinite, await_atom::value, id)
      .then(
        [self, id = id, number](task_result& r) {
          if (current(self, number))
            take_result(self, id, r);
        },
        [self, id = id, number](caf::error& e) {
          // An earlier run's task the journal does not know (any more).
          if (current(self, number))
            take_result(self, id, failed_result(id, std::move(e)));
        });
  }
  run.rep.total += resumed.size();
}

// The earlier run's tasks accepted after its last checkpoint run again
// under new ids: the old ones are cancelled instead of run twice.
void cancel_stragglers(cluster_self self, task_id first_new) {
  auto& run = *self->state.run;
  if (!run.cancel_after)
    return;
  for (auto id = *run.cancel_after + 1; id < first_new; ++id)
    // unknown_task: it ended meanwhile; its result is dropped either way.
    self->request(self->state.ctx->sched, caf::infinite, cancel_atom::value, id)
      .then([](caf::ok_atom) {}, [](caf::error&) {});
  run.cancel_after.reset();
}

// While the run goes on: when the feed wants a checkpoint, nothing more is
// submitted until every task sent has its id; then the note goes out.
void checkpoint_step_in_run(cluster_self self) {
  auto& run = *self->state.run;
  if (run.checkpoint == checkpoint_step::none && run.feed->checkpoint_due())
    run.checkpoint = checkpoint_step::awaiting_ids;
  if (run.checkpoint != checkpoint_step::awaiting_ids || run.batches_unanswered > 0)
    return;
  run.checkpoint = checkpoint_step::none;
  if (auto note = run.feed->checkpoint(run.key_of, run.max_id, false))
    send_note(self, std::move(*note), checkpoint_step::note_in_flight);
}

// As the run ends, however it ends: what is written and what is left, so
// that the same command goes on from here. Not possible with tasks sent
// whose ids never came, or without the scheduler: the last checkpoint
// stands. Notes land in order: the last one after the one in flight.
bool last_checkpoint(cluster_self self) {
  auto& run = *self->state.run;
  if (self->state.scheduler_exit || run.batches_unanswered > 0) {
    run.checkpoint = checkpoint_step::last_recorded;
    return true;
  }
  switch (run.checkpoint) {
    case checkpoint_step::note_in_flight:
    case checkpoint_step::last_in_flight:
      return false;  // its answer comes back here
    case checkpoint_step::last_recorded:
      return true;
    default:
      break;
  }
  auto note = run.feed->checkpoint(run.key_of, run.max_id, true);
  if (!note) {
    run.checkpoint = checkpoint_step::last_recorded;
    return true;
  }
  send_note(self, std::move(*note), checkpoint_step::last_in_flight);
  return false;
}

} // namespace gasched::run
