// The cluster actor's look at the cluster: the scheduler's stats, nodes that
// join and leave, supervision of the local nodes, their logs, the progress
// display and no_nodes_watch. A look comes every tick while something
// happens, and none at all while the cluster is idle, except one every 2 s
// when what others do sends us no message (idle_looks()), or when a plain
// progress line still owes a change. Results, the feed's wake-up, signals
// and SIGCHLD reach the actor as messages, without any timer.
#include <algorithm>
#include <set>
#include <string>

#include <fmt/format.h>

#include "gasched/gasched.hpp"
#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

using namespace std::chrono_literals;

namespace {

// Ticks: a bar redraw every 100 ms is smooth and costs one stats request.
clock::duration tick_every(cluster_self self) {
  return self->state.ctx->display.is_bar() ? clock::duration{100ms} : clock::duration{250ms};
}

// What sends us no message: what local nodes write to their logs. Only then
// does an idle cluster look now and then. Nodes that join or leave a
// scheduler we publish, and tasks that remote clients submit to it, the
// scheduler tells us of (changed_atom, notify_client_of_changes).
bool idle_looks(cluster_self self) {
  auto& ctx = *self->state.ctx;
  return ctx.opts.log_given && !ctx.opts.quiet && ctx.nodes.size() > 0;
}

void set_look(cluster_self self, clock::time_point at) {
  auto& st = self->state;
  if (st.look_at && *st.look_at <= at)
    return;  // one is due sooner
  st.look_at = at;
  auto number = ++st.looks_set;
  auto wait = std::max<clock::duration>(at - clock::now(), clock::duration::zero());
  self->delayed_send(self, wait, look_atom::value, number);
}

// The next look after one that found the cluster `busy` (or not).
void next_look(cluster_self self, bool busy) {
  constexpr auto idle_look_every = 2s;
  auto& st = self->state;
  auto now = clock::now();
  // Restarted nodes the scheduler refused for now are offered again soon.
  if (busy || !st.hand_over.empty())
    return set_look(self, now + tick_every(self));
  if (!st.ctx->display.settled())  // a plain line still owes the last change
    set_look(self, std::max(now + tick_every(self), st.ctx->display.line_due()));
  if (idle_looks(self))
    set_look(self, now + idle_look_every);
}

void show_node_logs(cluster_self self) {
  auto& ctx = *self->state.ctx;
  if (!ctx.opts.log_given || ctx.opts.quiet)
    return;
  for (auto& line : ctx.nodes.new_log_lines(false))
    ctx.display.raw(line);
}

// Join and leave notices; an idle server's waiting message.
void watch_nodes(cluster_self self, const stats& s) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  std::set<std::string> now;
  for (auto& n : s.worker_nodes)
    now.insert(n.node);
  if (ctx.opts.listening()) {
    for (auto& name : now)
      if (st.nodes_seen.count(name) == 0 && ctx.nodes.find(name) == nullptr)
        ctx.display.notice("node " + name + " joined");
    for (auto& name : st.nodes_seen)
      if (now.count(name) == 0)
        ctx.display.notice("node " + name + " is gone");
    // With tasks waiting, no_nodes_watch speaks instead.
    if (now.empty() && s.pending + s.running == 0
        && clock::now() - st.last_waiting_notice > 30s) {
      st.last_waiting_notice = clock::now();
      ctx.display.notice("waiting for nodes to join: run gasched-node --join "
                         + ctx.join_address + " on each machine (Ctrl-C to give up)");
    }
  }
  st.nodes_seen = std::move(now);
}

// A restarted node is a new actor: the scheduler must be handed it. Until
// the scheduler has seen the old one go, it refuses the name
// (errc::name_in_use): offered again at the next look.
void hand_over_restarted(cluster_self self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  if (!ctx.own_scheduler)
    return st.hand_over.clear();
  auto names = std::move(st.hand_over);
  st.hand_over.clear();
  for (auto& name : names) {
    auto* n = ctx.nodes.find(name);
    if (!n || !n->process.running() || n->death)
      continue;  // died again: supervision has it
    // Not gasched::connect: this actor may run on CAF's I/O thread, which a
    // blocking connect would wait for.
    auto again = [self, name](caf::error&) {
      self->state.hand_over.push_back(name);
      if (self->state.run)
        look_soon(self);
    };
    self
      ->request(gasched::connector(self->system()), std::chrono::seconds(5),
                caf::connect_atom::value, std::string{"127.0.0.1"}, n->port)
      .then(
        [self, again](const caf::node_id&, caf::strong_actor_ptr& ptr,
                      const std::set<std::string>&) {
          if (!ptr) {
            caf::error none_there = caf::sec::no_actor_published_at_port;
            return again(none_there);
          }
          self
            ->request(self->state.ctx->sched, std::chrono::seconds(5), add_node_atom::value,
                      caf::actor_cast<caf::actor>(ptr))
            .then([](caf::ok_atom) {}, again);
        },
        again);
  }
}

// A run's look: progress and no_nodes_watch; whether something is going on
// (tasks not done, or a change).
bool run_look(cluster_self self, const std::optional<stats>& s) {
  auto& st = self->state;
  auto& run = *st.run;
  if (s && run.rep.fatal.empty()) {
    auto v = run.watch.look(clock::now(), s->worker_node_count, run.rep.total - run.done,
                            join_hint(self));
    if (!v.notice.empty())
      st.ctx->display.error(v.notice);  // even with --quiet: a run that waits must say why
    run.rep.fatal = v.fatal;
  }
  if (s) {
    run.slots = 0;
    for (auto& n : s->worker_nodes)
      run.slots += n.slots;
  }
  auto c = run_counts(self, s);
  st.ctx->display.update(c);
  auto changed = !run.last_look || !(*run.last_look == c);
  run.last_look = c;
  auto others = st.ctx->own_scheduler && s && s->pending + s->running > 0;  // remote clients'
  return changed || run.done < run.rep.total || others;
}

void looked(cluster_self self, const std::optional<stats>& s) {
  auto& st = self->state;
  st.look_asked.reset();
  if (s)
    watch_nodes(self, *s);
  supervise(self);
  show_node_logs(self);
  auto busy = st.stage == cluster_stage::serving ? serve_look(self, s) : run_look(self, s);
  next_look(self, busy);
  if (st.stage == cluster_stage::serving && !st.run->rep.fatal.empty())
    end_serve(self);
  else
    step(self);
}

} // namespace

void look_now(cluster_self self) {
  set_look(self, clock::now());
}

void look_soon(cluster_self self) {
  set_look(self, clock::now() + tick_every(self));
}

void on_look_due(cluster_self self, uint64_t number) {
  auto& st = self->state;
  if (number != st.looks_set || !st.run)
    return;  // a later look replaced it, or the run is over
  st.look_at.reset();
  if (st.look_asked)
    return look_soon(self);  // the last look is still waiting for its stats
  st.look_asked = clock::now();
  auto run_number = st.run->number;
  auto answered = [self, run_number](const std::optional<stats>& s) {
    auto stage = self->state.stage;
    if (current(self, run_number)
        && (stage == cluster_stage::serving || collecting(self, run_number)))
      looked(self, s);
  };
  self->request(st.ctx->sched, std::chrono::seconds(5), stats_atom::value)
    .then([answered](stats& s) { answered(s); },
          [answered](caf::error&) { answered(std::nullopt); });
}

// Restarts the local nodes that died; fatal when one died too often.
void supervise(cluster_self self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  if (ctx.signals.requested())
    return;  // Ctrl-C on a terminal reaches the nodes too: not a death to mend
  for (auto& name : ctx.supervision.check())
    if (std::find(st.hand_over.begin(), st.hand_over.end(), name) == st.hand_over.end())
      st.hand_over.push_back(name);
  st.run->rep.restarts = ctx.supervision.restarts();
  if (!ctx.supervision.fatal().empty())
    st.run->rep.fatal = ctx.supervision.fatal();
  hand_over_restarted(self);
}

progress_counts run_counts(cluster_self self, const std::optional<stats>& s) {
  auto& run = *self->state.run;
  progress_counts c;
  // Known only once the whole feed is in; until then progress shows what
  // was read of the file instead.
  c.total = run.fed_total.value_or(0);
  c.done = run.done;
  c.failed = run.rep.failed;
  if (!run.fed_total) {
    c.streaming = true;
    std::tie(c.bytes_read, c.bytes_total) = run.feed->bytes();
    c.submitted = run.rep.total;
  }
  if (s) {
    c.nodes = s->worker_node_count;
    auto outstanding = run.rep.total - run.done;
    if (self->state.ctx->own_scheduler) {
      c.running = s->running;
      c.pending = s->pending;
    } else {
      // A remote scheduler's counts include other clients' tasks: show
      // ours, taking the running ones from its count.
      c.running = std::min<uint64_t>(s->running, outstanding);
      c.pending = outstanding - c.running;
    }
  }
  return c;
}

// The scheduler's counts of nodes and requeues, when the scheduler is ours.
void take_counts(run_report& rep, const stats& s) {
  rep.requeued = s.requeued;
  rep.requeued_known = true;
  rep.late_results = s.late_results;
  rep.node_joins = s.node_joins;
  rep.node_losses = s.node_losses;
  rep.node_rejoins = s.node_rejoins;
  rep.node_events = s.node_events;
}

// Where a node can join, for the waiting messages; empty for local nodes only.
const std::string& join_hint(cluster_self self) {
  return self->state.ctx->join_address;
}

} // namespace gasched::run
