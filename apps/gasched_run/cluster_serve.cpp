// --serve in the cluster actor: the published scheduler runs remote clients'
// tasks on the nodes that join it, until a signal. The actor shows the
// cluster at each look and counts what was served from the scheduler's
// stats: as its client it is not sent the results the scheduler sends or
// answers to remote clients (scheduler_options::notify_client_of_awaited),
// since a copy of each, one message a result, cost the served scheduler
// about a third of its CPU.
#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

void start_serve(cluster_self self, serve_job* job) {
  auto& st = self->state;
  auto& run = st.run.emplace();
  run.number = ++st.runs;
  run.rep.started_unix_ms = st.ctx->started_unix_ms;
  run.report_to = &job->report;
  run.started = clock::now();
  st.ctx->display.start();
  enter(self, cluster_stage::serving);
  if (st.ctx->signals.requested())
    return end_serve(self);
  look_now(self);
}

// A result nobody else is owed (a task of a client that is gone, or one a
// resumed journal holds for no one): the stats count it.
void serve_result(cluster_self self, const task_result&) {
  look_soon(self);  // tasks are on the move: the display follows them
}

void take_served(run_state& run, const stats& s) {
  if (!run.served_from)
    run.served_from.emplace(s.succeeded, s.failed);
  run.rep.succeeded = s.succeeded - std::min(s.succeeded, run.served_from->first);
  run.rep.failed = s.failed - std::min(s.failed, run.served_from->second);
}

// A server's look; whether something is going on (a change, tasks).
bool serve_look(cluster_self self, const std::optional<stats>& s) {
  if (!s)
    return true;  // not answered: look again at the next tick
  auto& run = *self->state.run;
  auto& display = self->state.ctx->display;
  take_served(run, *s);
  run.rep.total = s->succeeded + s->failed + s->pending + s->running;
  progress_counts c;
  c.done = s->succeeded + s->failed;
  c.failed = s->failed;
  c.running = s->running;
  c.pending = s->pending;
  c.nodes = s->worker_node_count;
  display.update(c);
  take_counts(run.rep, *s);
  // A server waits for nodes as long as it serves, but says so.
  auto v = run.watch.look(clock::now(), s->worker_node_count, s->pending + s->running,
                          join_hint(self));
  if (!v.notice.empty())
    display.error(v.notice);
  auto changed = !run.last_look || !(*run.last_look == c);
  run.last_look = c;
  return changed || c.running + c.pending > 0;
}

// Serving ends: what the scheduler still holds (every pending or running
// task is unfinished; its client learns that it was cancelled) is counted
// as the report goes out (finish_job).
void end_serve(cluster_self self) {
  auto& st = self->state;
  auto& run = *st.run;
  run.rep.interrupted_by = st.ctx->signals.signal();
  run.rep.seconds = std::chrono::duration<double>(clock::now() - run.started).count();
  enter(self, cluster_stage::closing);
  finish_job(self);
}

} // namespace gasched::run
