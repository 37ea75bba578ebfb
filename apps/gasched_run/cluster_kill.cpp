// --kill-node-after N in the cluster actor: once N results came (and tasks
// are still to come), the busiest local node is killed with kill -9; the
// scheduler requeues its running tasks and supervision restarts it at once,
// so that the run shows both. Steps: armed -> killing -> done (kill_demo).
#include <fmt/format.h>

#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

namespace {

// The busiest local node (its running tasks must be requeued), else any
// running one; its running tasks as the scheduler saw them.
std::pair<local_nodes::node*, uint32_t> pick_victim(local_nodes& nodes,
                                                    const std::optional<stats>& s) {
  local_nodes::node* victim = nullptr;
  uint32_t victim_running = 0;
  if (s)
    for (auto& load : s->worker_nodes)
      if (auto* n = nodes.find(load.node); n && n->process.running()
                                           && (!victim || load.running > victim_running)) {
        victim = n;
        victim_running = load.running;
      }
  if (!victim)
    for (auto& n : nodes.all())
      if (n.process.running()) {
        victim = &n;
        break;
      }
  return {victim, victim_running};
}

void kill_one(cluster_self self, const std::optional<stats>& s) {
  auto& ctx = *self->state.ctx;
  auto& run = *self->state.run;
  run.kill = kill_demo::done;
  auto [victim, victim_running] = pick_victim(ctx.nodes, s);
  if (!victim)
    return;
  ctx.nodes.kill(*victim);
  run.rep.killed_node = victim->name;
  run.rep.killed_after = run.done;
  run.rep.killed_running = victim_running;
  run.rep.killed_unix_ms = unix_ms_now();
  ctx.display.notice(fmt::format("killed {} (kill -9, pid {}) after {} results, with {} "
                                 "task{} running on it: the scheduler requeues {}",
                                 victim->name, victim->pid, run.done, victim_running,
                                 victim_running == 1 ? "" : "s",
                                 victim_running == 1 ? "it" : "them"));
  supervise(self);  // at once: the restart belongs to the demonstration
}

} // namespace

void arm_kill(cluster_self self) {
  auto& run = *self->state.run;
  run.kill = self->state.ctx->opts.kill_node_after > 0 ? kill_demo::armed : kill_demo::off;
}

void kill_when_due(cluster_self self) {
  auto& run = *self->state.run;
  auto after = self->state.ctx->opts.kill_node_after;
  if (run.kill != kill_demo::armed || run.done < after
      || (run.fed_total && run.done >= *run.fed_total))
    return;
  run.kill = kill_demo::killing;
  auto number = run.number;
  auto killed = [self, number](const std::optional<stats>& s) {
    if (collecting(self, number)) {
      kill_one(self, s);
      step(self);
    }
  };
  // Awaited: no other result is counted before the kill, which the report
  // places after exactly N results.
  self->request(self->state.ctx->sched, std::chrono::seconds(5), stats_atom::value)
    .await([killed](stats& s) { killed(s); }, [killed](caf::error&) { killed(std::nullopt); });
}

// The feed ended: a run of no more than N tasks has no N-th result with
// tasks still to come.
void kill_too_late(cluster_self self) {
  auto& run = *self->state.run;
  auto after = self->state.ctx->opts.kill_node_after;
  if (run.kill != kill_demo::armed || after < run.rep.total || run.rep.total == 0)
    return;
  run.kill = kill_demo::off;
  self->state.ctx->display.notice(fmt::format("--kill-node-after {}: the run has {} tasks, "
                                              "so no node will be killed",
                                              after, run.rep.total));
}

} // namespace gasched::run
