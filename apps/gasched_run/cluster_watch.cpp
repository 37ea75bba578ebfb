// What the loops look at between results: the scheduler's stats, nodes
// that join and leave, supervision of the local nodes, --kill-node-after.
#include <algorithm>

#include <fmt/format.h>

#include "gasched_run/cluster_impl.hpp"

namespace gasched::run {

using namespace std::chrono_literals;

std::optional<stats> cluster::impl::ask_stats() {
  std::optional<stats> result;
  (*self)->request(sched, 5s, stats_atom::value)
    .receive([&](stats& s) { result = std::move(s); }, [](caf::error&) {});
  return result;
}

// Join and leave notices; an idle server's waiting message.
void cluster::impl::watch_nodes(const stats& s) {
  std::set<std::string> now;
  for (auto& n : s.worker_nodes)
    now.insert(n.node);
  if (opts.listening()) {
    for (auto& name : now)
      if (nodes_seen.count(name) == 0 && nodes.find(name) == nullptr)
        display.notice("node " + name + " joined");
    for (auto& name : nodes_seen)
      if (now.count(name) == 0)
        display.notice("node " + name + " is gone");
    // With tasks waiting, no_nodes_watch speaks instead.
    if (now.empty() && s.pending + s.running == 0
        && clock::now() - last_waiting_notice > 30s) {
      last_waiting_notice = clock::now();
      display.notice("waiting for nodes to join: run gasched-node --join " + join_address
                     + " on each machine (Ctrl-C to give up)");
    }
  }
  nodes_seen = std::move(now);
}

// Restarts the local nodes that died; fatal when one died too often.
void cluster::impl::supervise(run_report& rep) {
  if (signals.requested())
    return;  // Ctrl-C on a terminal reaches the nodes too: not a death to mend
  for (auto& name : supervision.check())
    if (std::find(hand_over.begin(), hand_over.end(), name) == hand_over.end())
      hand_over.push_back(name);
  rep.restarts = supervision.restarts();
  if (!supervision.fatal().empty())
    rep.fatal = supervision.fatal();
  hand_over_restarted();
}

// A restarted node is a new actor: the scheduler must be handed it. Until
// the scheduler has seen the old one go, it refuses the name
// (errc::name_in_use): tried again at the next tick.
void cluster::impl::hand_over_restarted() {
  if (!own_scheduler)
    return;
  std::vector<std::string> left;
  for (auto& name : hand_over) {
    auto* n = nodes.find(name);
    if (!n || !n->process.running() || n->death)
      continue;  // died again: supervision has it
    bool added = false;
    if (auto handle = gasched::connect(*sys, "127.0.0.1", n->port))
      (*self)
        ->request(sched, 5s, add_node_atom::value, *handle)
        .receive([&](caf::ok_atom) { added = true; }, [](caf::error&) {});
    if (!added)
      left.push_back(name);
  }
  hand_over = std::move(left);
}

// Where a node can join, for the waiting messages; empty for local nodes only.
std::string cluster::impl::join_hint() const {
  if (opts.connecting())
    return opts.connect_host + ":" + std::to_string(opts.connect_port);
  return join_address;
}

// The progress loop's look at the cluster, every tick.
std::optional<stats> cluster::impl::look_around(run_report& rep) {
  auto s = ask_stats();
  if (s)
    watch_nodes(*s);
  supervise(rep);
  show_node_logs(false);
  return s;
}

void cluster::impl::kill_one(run_report& rep, uint64_t done) {
  // The busiest local node: its running tasks must be requeued.
  auto s = ask_stats();
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
  if (!victim)
    return;
  nodes.kill(*victim);
  rep.killed_node = victim->name;
  rep.killed_after = done;
  rep.killed_running = victim_running;
  rep.killed_unix_ms = unix_ms_now();
  display.notice(fmt::format("killed {} (kill -9, pid {}) after {} results, with {} task{} "
                             "running on it: the scheduler requeues {}",
                             victim->name, victim->pid, done, victim_running,
                             victim_running == 1 ? "" : "s",
                             victim_running == 1 ? "it" : "them"));
}

// The scheduler's counts of nodes and requeues, when the scheduler is ours.
void cluster::impl::take_counts(run_report& rep, const stats& s) {
  rep.requeued = s.requeued;
  rep.requeued_known = true;
  rep.late_results = s.late_results;
  rep.node_joins = s.node_joins;
  rep.node_losses = s.node_losses;
  rep.node_rejoins = s.node_rejoins;
  rep.node_events = s.node_events;
}

} // namespace gasched::run
