// Nodes coming and going: added (handed or joined), lost, reconnected.
//
// A node handed by address (opts.nodes, add_node_atom; a handle from
// gasched::connect) is reconnected at that address when lost, as gascheduler
// re-adds a node on nodeup; a node that joined rejoins by itself. Each
// episode of failed attempts is logged once, not per retry.
#include <unordered_map>

#include <caf/io/middleman.hpp>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"
#include "net/tls.hpp"

namespace gasched::detail {

namespace {

void record(scheduler_self self, uint8_t kind, const std::string& node,
            std::string detail = {}) {
  auto& events = self->state.node_events;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  events.push_back(node_event{
    std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), node, kind,
    std::move(detail)});
  if (events.size() > 64)
    events.pop_front();
  tell_client(self);
}

// A node handed to us from another process: ask CAF's middleman where it is
// published, so that it can be reconnected there when its connection is lost.
void learn_address(scheduler_self self, const node_actor& node) {
  if (node.node() == self->node())
    return;
  self->request(middleman_of(self->system()), reconnect_timeout, caf::get_atom::value,
                node.node())
    .then(
      [self, addr = node.address()](const caf::node_id&, std::string& host, uint16_t port) {
        auto& st = self->state;
        auto it = st.index_of.find(addr);
        if (it == st.index_of.end() || host.empty() || port == 0)
          return;
        auto& entry = st.nodes[it->second];
        entry.host = std::move(host);
        entry.port = port;
        st.reconnects.erase(entry.host + ":" + std::to_string(port));
      },
      [](caf::error&) {});  // an indirect connection: nothing to reconnect
}

void start_reconnect(scheduler_self self, const node_entry& node) {
  auto& st = self->state;
  auto key = node.host + ":" + std::to_string(node.port);
  if (st.reconnects.count(key) > 0)
    return;  // already at it
  auto& r = st.reconnects
              .emplace(key, reconnecting{node.name,
                                         reconnect_episode{std::chrono::milliseconds(100),
                                                           std::chrono::seconds(1)}})
              .first->second;
  self->delayed_send(self, r.episode.next_pause(), reconnect_atom::value, key);
}

void reconnect_failed(scheduler_self self, const std::string& key, const std::string& why) {
  auto& st = self->state;
  auto it = st.reconnects.find(key);
  if (it == st.reconnects.end())
    return;
  auto& r = it->second;
  log(r.episode.failure_level(), "scheduler {}: cannot reach node {} at {} again: {}; retrying",
      st.label, r.name, key, why);
  self->delayed_send(self, r.episode.next_pause(), reconnect_atom::value, key);
}

void reconnected(scheduler_self self, const std::string& key, const node_actor& node,
                 node_info& info) {
  auto& st = self->state;
  auto it = st.reconnects.find(key);
  if (it == st.reconnects.end())
    return;
  if (auto err = add_node(self, node, info, true))
    return reconnect_failed(self, key, describe(err));
  auto& episode = it->second.episode;
  log(log_level::info, "scheduler {}: reconnected node {} at {} ({} attempts, {:.2f} s)",
      st.label, info.name, key, episode.attempts(), episode.seconds());
  st.reconnects.erase(key);
}

// A node that joined names the leases it still runs from before a restart
// or a takeover: those the journal vouches for run on (adopted), under their
// old lease; the node cancels the rest. Before pump: adopted tasks fill slots.
void adopt_claims(scheduler_self self, node_index n, const std::string& name,
                  const lease_list& held, lease_list& adopted) {
  auto& st = self->state;
  std::vector<std::pair<task_id, uint32_t>> claims;
  claims.reserve(held.ids.size());
  for (size_t i = 0; i < held.ids.size(); ++i)
    claims.emplace_back(held.ids[i], held.epochs[i]);
  auto before = st.core->unadopted();
  adopted.ids = st.core->adopt(n, name, claims);
  if (!adopted.ids.empty()) {
    std::unordered_map<task_id, uint32_t> epoch_of(claims.begin(), claims.end());
    for (auto id : adopted.ids)
      adopted.epochs.push_back(epoch_of[id]);
  }
  if (claims.empty() && before == st.core->unadopted())
    return;
  log(log_level::info, "scheduler {}: node {} still runs {} tasks from before; {} adopted, "
      "{} still wait for their nodes", st.label, name, claims.size(), adopted.ids.size(),
      st.core->unadopted());
  if (before > 0 && st.core->unadopted() == 0)
    log(log_level::info, "scheduler {}: every task that was running is claimed or runs again",
        st.label);
}

} // namespace

void hello(scheduler_self self, const node_actor& node, caf::timespan timeout,
           std::function<void(node_info&)> on_info, std::function<void(caf::error&)> on_error) {
  self->request(node, timeout, hello_atom::value)
    .then([on_info](node_info& info) { on_info(info); },
          [on_error](caf::error& err) { on_error(err); });
}

caf::error add_node(scheduler_self self, const node_actor& node, const node_info& info,
                    bool handed, const lease_list* held, lease_list* adopted) {
  auto& st = self->state;
  if (st.index_of.count(node.address()) > 0)
    return caf::none;
  for (auto& other : st.nodes)
    if (other.actor && other.name == info.name)
      return make_error(errc::name_in_use, "a node named " + info.name + " is already up");
  auto n = st.core->add_node(info.slots);
  if (n >= st.nodes.size())
    st.nodes.resize(n + 1);
  st.nodes[n] = node_entry{node, info.name, {}, {}, 0};
  if (st.journal)
    st.journal->name_node(n, info.name);
  st.index_of.emplace(node.address(), n);
  self->monitor(node);
  st.no_nodes_since = {};
  auto back = st.lost_names.count(info.name) > 0;
  ++(back ? st.node_rejoins : st.node_joins);
  record(self, back ? node_event::rejoined : node_event::joined, info.name);
  log(log_level::info, "scheduler {}: node {} is {} ({} slots)", st.label, info.name,
      back ? "back" : "up", st.core->nodes().capacity(n));
  if (handed)
    learn_address(self, node);
  else if (st.journal)
    self->send(node, ack_atom::value, uint64_t{0});  // before any order: it acknowledges
  if (held && adopted)
    adopt_claims(self, n, info.name, *held, *adopted);
  pump(self);
  return caf::none;
}

void release_unadopted(scheduler_self self) {
  auto& st = self->state;
  st.claims_open = false;
  if (auto n = st.core->release_unadopted(); n > 0)
    log(log_level::warning, "scheduler {}: {} tasks that were running before the restart "
        "were not claimed by their nodes within {:.1f} s; they run again", st.label, n,
        std::chrono::duration<double>(st.opts.adopt_wait).count());
  pump(self);
}

void reconnect(scheduler_self self, const std::string& key) {
  auto& st = self->state;
  auto it = st.reconnects.find(key);
  if (it == st.reconnects.end())
    return;  // back by other means
  it->second.episode.attempt();
  auto colon = key.rfind(':');
  self->request(middleman_of(self->system()), reconnect_timeout, caf::connect_atom::value,
                key.substr(0, colon), static_cast<uint16_t>(std::stoul(key.substr(colon + 1))))
    .then(
      [self, key](const caf::node_id&, caf::strong_actor_ptr& ptr,
                  const std::set<std::string>&) {
        if (!ptr)
          return reconnect_failed(self, key, "nothing is published there");
        auto node = caf::actor_cast<node_actor>(ptr);
        hello(
          self, node, reconnect_timeout,
          [self, key, node](node_info& info) { reconnected(self, key, node, info); },
          [self, key](caf::error& err) {
            reconnect_failed(self, key, self->system().render(err));
          });
      },
      [self, key](caf::error& err) { reconnect_failed(self, key, self->system().render(err)); });
}

void remove_node(scheduler_self self, node_index n, const caf::error& reason) {
  auto& st = self->state;
  auto& node = st.nodes[n];
  auto why = self->system().render(reason);
  auto running = st.core->nodes().running(n);
  log(log_level::warning, "scheduler {}: node {} is down ({}); requeueing its {} running tasks",
      st.label, node.name, why, running);
  for (auto& t : st.core->remove_node(n)) {
    auto what = std::to_string(t.node_failures) + " nodes died while running it";
    log(log_level::warning, "scheduler {}: task {} {}: {}; quarantined", st.label, t.id,
        st.core->function_name(t.fn), what);
    deliver(self, make_result(self, t, {}, make_error(errc::node_failures, what)));
  }
  ++st.node_losses;
  st.lost_names.insert(node.name);
  record(self, node_event::lost, node.name,
         why + ", " + std::to_string(running) + " tasks in its hands");
  if (!node.host.empty())
    start_reconnect(self, node);
  st.index_of.erase(node.actor.address());
  node = node_entry{};
  pump(self);
}

void watch_for_no_nodes(scheduler_self self) {
  auto& st = self->state;
  if (st.core->pending() == 0 || st.opts.no_nodes_warning.count() <= 0)
    return;
  if (st.no_nodes_since == std::chrono::steady_clock::time_point{})
    st.no_nodes_since = std::chrono::steady_clock::now();
  if (!st.no_nodes_check_armed) {
    st.no_nodes_check_armed = true;
    self->delayed_send(self, st.opts.no_nodes_warning, no_nodes_atom::value);
  }
}

void check_no_nodes(scheduler_self self) {
  auto& st = self->state;
  st.no_nodes_check_armed = false;
  if (st.core->nodes().size() > 0 || st.core->pending() == 0) {
    st.no_nodes_since = {};
    return;
  }
  auto waited = std::chrono::steady_clock::now() - st.no_nodes_since;
  log(log_level::warning,
      "scheduler {}: {} tasks pending and no node up for {:.0f} s; nodes can join where this "
      "scheduler is published (gasched-node --join HOST:PORT) or be added with add_node",
      st.label, st.core->pending(), std::chrono::duration<double>(waited).count());
  watch_for_no_nodes(self);
}

} // namespace gasched::detail
