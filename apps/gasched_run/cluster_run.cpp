// A run in the cluster actor: it submits what the feed has, collects one
// result per task (keyed as the feed gave them), and ends (closing, then
// the report) when every result is in, a signal came, or it cannot go on.
#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "gasched/errc.hpp"
#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

using namespace std::chrono_literals;

namespace {

// After results, a moment without more: the feed flushes their output.
constexpr auto quiet_after = 20ms;

// Tasks submitted and without a result yet, at most (give or take a piece of
// the feed's): the rest of --max-pending's window waits in the feed. Every
// task submitted may become a result message waiting in our mailbox, the
// costliest form a line takes (about 400 bytes: the task, its value, names),
// and it does whenever this actor falls behind the nodes for a moment (its
// thread not scheduled, the output blocked): with the whole window submitted,
// the peak would be a matter of luck that a longer file is likelier to meet.
// Enough ahead that the nodes never wait, for a large cluster too: eight
// times its slots.
uint64_t submit_ahead(const run_state& run) {
  constexpr uint64_t at_least = 16384;
  return std::max(at_least, 8 * run.slots);
}

void record(cluster_self self, uint64_t key, const task_result& r) {
  auto& run = *self->state.run;
  // --connect: a line whose result was written already (sent again after a
  // switch, cluster_follow.cpp) gets no second one.
  if (!self->state.ctx->own_scheduler && run.open_keys.erase(key) == 0) {
    ++run.rep.duplicates;
    return;
  }
  ++run.done;
  run.rep.count(r);
  (*run.on_result)(key, r);
  if (run.done == run.done_when_quiet + 1)
    self->delayed_send(self, quiet_after, quiet_atom::value, run.number);
  kill_when_due(self);
  look_soon(self);  // results came: ticks again while tasks run
}

void take_ids(cluster_self self, const std::vector<uint64_t>& keys,
              const std::vector<task_id>& ids) {
  auto& run = *self->state.run;
  --run.batches_unanswered;
  for (size_t i = 0; i < ids.size() && i < keys.size(); ++i)
    run.key_of.emplace(ids[i], keys[i]);
  if (!ids.empty()) {
    cancel_stragglers(self, ids.front());
    run.max_id = std::max(run.max_id, *std::max_element(ids.begin(), ids.end()));
  }
}

void submit(cluster_self self, std::vector<std::pair<uint64_t, task>>& batch) {
  auto& run = *self->state.run;
  auto remote = !self->state.ctx->own_scheduler;
  run.rep.total += batch.size();
  look_soon(self);  // tasks went in: ticks again while they run
  std::vector<task> tasks;
  std::vector<uint64_t> keys;
  tasks.reserve(batch.size());
  keys.reserve(batch.size());
  for (auto& entry : batch) {
    keys.push_back(entry.first);
    tasks.push_back(std::move(entry.second));
    if (remote)
      run.open_keys.insert(entry.first);
  }
  ++run.batches_unanswered;
  auto number = ++run.batches_sent;
  // A remote scheduler may be lost before the ids come back: the batch is
  // kept to be sent to the one that follows it (cluster_follow.cpp).
  if (remote)
    run.unacked.emplace(number, sent_batch{keys, tasks});
  send_tasks(self, number, std::move(keys), std::move(tasks));
}

// Submits what the feed has now; drains once it has ended.
void feed_some(cluster_self self) {
  auto& run = *self->state.run;
  auto ended = run.feed->ended();  // asked first: whatever came before the end is taken now
  auto in_flight = run.rep.total - run.done;
  auto ahead = submit_ahead(run);
  // Refilled a quarter at a time, not a small batch (a message) per result.
  if (!ended && in_flight + ahead / 4 <= ahead) {
    std::vector<std::pair<uint64_t, task>> batch;
    run.feed->take(batch, ahead - in_flight);
    if (!batch.empty())
      submit(self, batch);
  }
  if (ended) {
    run.fed_total = run.rep.total;
    enter(self, cluster_stage::draining);
    kill_too_late(self);
  }
}

} // namespace

void send_tasks(cluster_self self, uint64_t batch, std::vector<uint64_t> keys,
                std::vector<task> tasks) {
  // The ids come back before any result of the batch: a scheduler's
  // messages to us arrive in the order it sent them. A remote scheduler
  // sends our results in batches (we subscribed, cluster_actor.cpp): only
  // our process's tasks, so two clients of one scheduler stay apart.
  auto& st = self->state;
  auto number = st.run->number;
  auto epoch = st.epoch;  // a lost scheduler's late answers are dropped
  self->request(st.ctx->sched, caf::infinite, execute_atom::value, std::move(tasks))
    .then(
      [self, number, epoch, batch, keys = std::move(keys)](std::vector<task_id>& ids) {
        if (current(self, number) && epoch == self->state.epoch) {
          self->state.run->unacked.erase(batch);
          take_ids(self, keys, ids);
          step(self);
        }
      },
      [self, number, epoch](caf::error& e) {
        if (current(self, number) && epoch == self->state.epoch) {
          if (lose_scheduler(self, describe(e), e))
            return;  // sent again to the scheduler that follows
          --self->state.run->batches_unanswered;
          self->state.run->rep.fatal = "the scheduler refused the tasks: " + describe(e);
          step(self);
        }
      });
}

// The scheduler did not run it (queue full, stopped, an earlier run's task
// the journal does not know any more): the same shape as a failed result.
task_result failed_result(task_id id, caf::error e) {
  task_result r;
  r.id = id;
  r.error = std::move(e);
  return r;
}

bool current(cluster_self self, uint64_t run_number) {
  return self->state.run && self->state.run->number == run_number;
}

bool collecting(cluster_self self, uint64_t run_number) {
  auto stage = self->state.stage;
  return current(self, run_number)
         && (stage == cluster_stage::feeding || stage == cluster_stage::draining);
}

void start_run(cluster_self self, run_job* job) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto& run = st.run.emplace();
  run.number = ++st.runs;
  run.rep.started_unix_ms = ctx.started_unix_ms;
  run.report_to = &job->report;
  run.feed = job->feed;
  run.on_result = job->on_result;
  run.max_id = job->known_ids.value_or(0);
  if (job->known_ids && journaled(self) && !ctx.opts.listening())
    run.cancel_after = job->known_ids;  // listening, the ids between may be remote clients'
  run.watch = no_nodes_watch{std::chrono::seconds(ctx.opts.no_nodes_timeout)};
  await_resumed(self, job->resumed);
  run.started = clock::now();
  ctx.display.start();
  run.feed->start([me = caf::actor_cast<cluster_actor>(self)] {
    caf::anon_send(me, feed_atom::value);
  });
  arm_kill(self);
  enter(self, cluster_stage::feeding);
  look_now(self);
  step(self);
}

// What the run does next, after anything happened.
void step(cluster_self self) {
  auto& st = self->state;
  if (st.stage != cluster_stage::feeding && st.stage != cluster_stage::draining)
    return;
  auto& run = *st.run;
  if (!run.rep.fatal.empty())
    return close_run(self);
  if (st.ctx->signals.requested()) {
    run.rep.interrupted_by = st.ctx->signals.signal();
    return close_run(self);
  }
  // While a lost scheduler's successor is searched for, nothing is sent.
  if (st.stage == cluster_stage::feeding && run.checkpoint != checkpoint_step::awaiting_ids
      && !st.searching)
    feed_some(self);
  if (run.fed_total && run.done >= run.rep.total)
    return close_run(self);
  if (journaled(self))
    checkpoint_step_in_run(self);
}

void take_result(cluster_self self, task_id id, const task_result& r) {
  if (!self->state.run || !collecting(self, self->state.run->number))
    return;  // closing: the last checkpoint holds it as unfinished
  auto& run = *self->state.run;
  auto it = run.key_of.find(id);
  if (it == run.key_of.end()) {
    // Ours, a remote client's, or one already answered (awaited too). With
    // --connect only our tasks come: a first copy of a line sent again after
    // a switch (its id never came back), or an answer both from a lost
    // scheduler and from the one that followed it.
    if (!self->state.ctx->own_scheduler)
      ++run.rep.duplicates;
    return;
  }
  auto key = it->second;
  run.key_of.erase(it);
  record(self, key, r);
  step(self);
}

void on_quiet(cluster_self self, uint64_t run_number) {
  if (!current(self, run_number))
    return;
  auto& run = *self->state.run;
  if (run.done == run.done_when_quiet)
    return;
  run.done_when_quiet = run.done;
  run.feed->idle();
}

// The run's last figures: its time, the last checkpoint, the counts of our
// scheduler (a remote one's are not ours, and one that went away would
// hold the run up for the request's timeout).
void close_run(cluster_self self) {
  auto& run = *self->state.run;
  run.rep.seconds = std::chrono::duration<double>(clock::now() - run.started).count();
  enter(self, cluster_stage::closing);
  if (!journaled(self) || last_checkpoint(self))
    finish_job(self);
}

void finish_job(cluster_self self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto number = st.run->number;
  auto report = [self, number](const std::optional<stats>& s) {
    if (!current(self, number))
      return;
    auto& st = self->state;
    auto& run = *st.run;
    if (s) {
      take_counts(run.rep, *s);
      if (run.feed)
        st.ctx->display.update(run_counts(self, s));
      else {  // serving: what the scheduler still holds is unfinished
        take_served(run, *s);
        run.rep.total = run.rep.succeeded + run.rep.failed + s->pending + s->running;
      }
    }
    run.rep.restarts = st.ctx->supervision.restarts();
    st.ctx->display.finish();
    auto* to = run.report_to;
    auto rep = std::move(run.rep);
    st.run.reset();
    st.look_at.reset();
    enter(self, cluster_stage::idle);
    to->set_value(std::move(rep));
  };
  auto serving_fatal = !st.run->feed && !st.run->rep.fatal.empty();
  if (!ctx.own_scheduler || st.scheduler_exit || serving_fatal)
    return report(std::nullopt);
  self->request(ctx.sched, std::chrono::seconds(5), stats_atom::value)
    .then([report](stats& s) { report(s); }, [report](caf::error&) { report(std::nullopt); });
}

} // namespace gasched::run
