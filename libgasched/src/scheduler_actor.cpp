// The scheduler actor: a thin shell around scheduler_core. It turns messages
// into calls on the core and sends what the core decides: dispatches to
// nodes, in batches, and one task_result per task to the client and awaiters.
//
//            spawn: ask every given node hello
//   ( starting ) ──all answered or timed out──> ( running ) ──stop / client exit──> ( done )
//        |                                           ^   |
//        └──none of the given nodes answered: ends   |   └─ node down: its tasks to the
//           with no_nodes_in_cluster                 |      front of pending, then dispatch;
//                                   execute, done,   |      a node handed by address is
//                                   join, add_node,  |      reconnected (Erlang's nodeup),
//                                   cancel, ...      |      a joined node rejoins by itself
//
// With tasks pending and no node up, it says so every no_nodes_warning.
//
// Dispatches are batched per node: orders wait while more messages are
// queued (they may add to the batch) and go out when the mailbox is empty or
// at a flush message queued behind them (see pump).

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <unordered_set>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "core/scheduler_core.hpp"
#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/scheduler.hpp"
#include "gasched/stats.hpp"
#include "backoff.hpp"
#include "logging.hpp"
#include "scheduler_directory.hpp"
#include "wire.hpp"

namespace gasched {

namespace {

using detail::node_index;

struct node_entry {
  caf::actor actor;  // invalid: the index is unused
  std::string name;
  detail::run_batch outbox;  // orders not sent yet
  // Where a node handed to us by address is published (from CAF's
  // middleman): reconnected there when lost. Empty for local and joined nodes.
  std::string host;
  uint16_t port = 0;
};

// A lost node handed by address, being reconnected.
struct reconnecting {
  std::string name;
  std::unique_ptr<detail::backoff> pause;
  std::chrono::steady_clock::time_point since;
  uint32_t attempts = 0;
  bool warned = false;  // the failure of this episode was logged
};

struct scheduler_state {
  scheduler_options opts;
  std::string label;  // the name results carry
  std::unique_ptr<detail::scheduler_core> core;
  detail::retry_policy policy;
  std::vector<node_entry> nodes;  // by node_index
  std::unordered_map<caf::actor_addr, node_index> index_of;
  std::vector<node_index> dirty;  // nodes with orders in their outbox
  bool flush_scheduled = false;
  std::unordered_multimap<task_id, caf::typed_response_promise<task_result>> awaiters;
  // node joins, losses and rejoins, for stats
  uint64_t node_joins = 0;
  uint64_t node_losses = 0;
  uint64_t node_rejoins = 0;
  std::deque<node_event> node_events;          // the latest, oldest first
  std::unordered_set<std::string> lost_names;  // nodes lost at least once
  std::unordered_map<std::string, reconnecting> reconnects;  // by "host:port"
  // Tasks pending and no node up: since when (a zero time point: not now),
  // and whether a check is scheduled.
  std::chrono::steady_clock::time_point no_nodes_since{};
  bool no_nodes_check_armed = false;
  // starting
  size_t hellos_outstanding = 0;
  bool started = false;
  caf::error start_error;
  std::vector<caf::typed_response_promise<caf::ok_atom>> ready_waiters;
  static inline const char* name = "gasched.scheduler";
};

using scheduler_actor = caf::stateful_actor<scheduler_state>;

// -- results ---------------------------------------------------------------------

task_result make_result(scheduler_actor* self, detail::ended_task& t, caf::message value,
                        caf::error error) {
  auto& st = self->state;
  task_result r;
  r.scheduler = st.label;
  r.id = t.id;
  r.value = std::move(value);
  r.error = std::move(error);
  if (t.node != detail::no_node)
    r.node = st.nodes[t.node].name;
  r.task = task{st.core->function_name(t.fn), std::move(t.args), t.priority};
  return r;
}

void deliver(scheduler_actor* self, task_result&& r) {
  auto& st = self->state;
  bool awaited = false;
  if (!st.awaiters.empty()) {
    auto [first, last] = st.awaiters.equal_range(r.id);
    for (auto i = first; i != last; ++i)
      i->second.deliver(r);
    awaited = first != last;
    st.awaiters.erase(first, last);
  }
  if (st.opts.client && (!awaited || st.opts.notify_client_of_awaited))
    self->send(st.opts.client, std::move(r));
}

// -- dispatch --------------------------------------------------------------------

bool full(scheduler_actor* self, node_index n) {
  auto& nodes = self->state.core->nodes();
  return nodes.running(n) >= nodes.limit(n);
}

// Sends the orders of the dirty nodes; with only_full, of those with no free slot.
void flush(scheduler_actor* self, bool only_full) {
  auto& st = self->state;
  auto keep = st.dirty.begin();
  for (auto n : st.dirty) {
    auto& node = st.nodes[n];
    if (node.outbox.orders.empty())
      continue;
    if (only_full && !full(self, n)) {
      *keep++ = n;
      continue;
    }
    node.outbox.policy = st.policy;
    node.outbox.capacity = st.core->nodes().capacity(n);
    self->send(node.actor, run_atom::value, std::move(node.outbox));
    node.outbox = detail::run_batch{};
  }
  st.dirty.erase(keep, st.dirty.end());
}

// Hands pending tasks to free slots; called after every change that may free
// a slot or add a task. Orders go out when the mailbox is empty, or with a
// flush message queued behind everything already in the mailbox: results that
// are waiting there refill the same batches. A node that is full when new
// tasks arrive (execute) gets its batch at once, so that a long queue of
// executes does not hold back nodes that cannot take more anyway.
void watch_for_no_nodes(scheduler_actor* self);

void pump(scheduler_actor* self, bool flush_full_nodes = true) {
  auto& st = self->state;
  if (st.core->nodes().size() == 0)
    watch_for_no_nodes(self);
  st.core->dispatch([&](const detail::dispatch_order& d) {
    auto& outbox = st.nodes[d.node].outbox.orders;
    if (outbox.empty())
      st.dirty.push_back(d.node);
    outbox.push_back(
      detail::run_order{d.id, d.epoch, st.core->function_name(d.fn), d.args});
  });
  if (st.dirty.empty())
    return;
  if (self->mailbox().empty()) {
    flush(self, false);
    return;
  }
  if (flush_full_nodes)
    flush(self, true);
  if (!st.dirty.empty() && !st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

// -- nodes -----------------------------------------------------------------------

// How long a reconnect's connect and hello may take: a cut link must not
// hold up the next attempt once it heals.
constexpr auto reconnect_timeout = std::chrono::seconds(2);

void record(scheduler_actor* self, uint8_t kind, const std::string& node,
            std::string detail = {}) {
  auto& events = self->state.node_events;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  events.push_back(node_event{
    std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), node, kind,
    std::move(detail)});
  if (events.size() > 64)
    events.pop_front();
}

// Asks `node` who it is; then(node_info) or error.
template <class OnInfo, class OnError>
void hello(scheduler_actor* self, const caf::actor& node, caf::timespan timeout,
           OnInfo on_info, OnError on_error) {
  self->request(node, timeout, hello_atom::value).then(std::move(on_info), std::move(on_error));
}

// A node handed to us from another process: ask CAF's middleman where it is
// published, so that it can be reconnected there when its connection is lost.
void learn_address(scheduler_actor* self, const caf::actor& node) {
  if (node.node() == self->node())
    return;
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, reconnect_timeout, caf::get_atom::value, node.node())
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

caf::error add_node(scheduler_actor* self, const caf::actor& node,
                    const detail::node_info& info, bool handed) {
  auto& st = self->state;
  if (st.index_of.count(node.address()) > 0)
    return caf::none;
  for (auto& other : st.nodes)
    if (other.actor && other.name == info.name)
      return make_error(errc::name_in_use, "a node named " + info.name
                                             + " is already up");
  auto n = st.core->add_node(info.slots);
  if (n >= st.nodes.size())
    st.nodes.resize(n + 1);
  st.nodes[n] = node_entry{node, info.name, {}, {}, 0};
  st.index_of.emplace(node.address(), n);
  self->monitor(node);
  st.no_nodes_since = {};
  auto back = st.lost_names.count(info.name) > 0;
  ++(back ? st.node_rejoins : st.node_joins);
  record(self, back ? node_event::rejoined : node_event::joined, info.name);
  detail::log(log_level::info, "scheduler {}: node {} is {} ({} slots)", st.label, info.name,
              back ? "back" : "up", st.core->nodes().capacity(n));
  if (handed)
    learn_address(self, node);
  pump(self);
  return caf::none;
}

void start_reconnect(scheduler_actor* self, const node_entry& node) {
  auto& st = self->state;
  auto key = node.host + ":" + std::to_string(node.port);
  auto& r = st.reconnects[key];
  if (r.pause)
    return;  // already at it
  r = reconnecting{node.name,
                   std::make_unique<detail::backoff>(std::chrono::milliseconds(100),
                                                     std::chrono::seconds(1)),
                   std::chrono::steady_clock::now(), 0, false};
  self->delayed_send(self, r.pause->next(), reconnect_atom::value, key);
}

void reconnect_failed(scheduler_actor* self, const std::string& key, const std::string& why) {
  auto& st = self->state;
  auto it = st.reconnects.find(key);
  if (it == st.reconnects.end())
    return;
  auto& r = it->second;
  detail::log(r.warned ? log_level::debug : log_level::warning,
              "scheduler {}: cannot reach node {} at {} again: {}; retrying", st.label,
              r.name, key, why);
  r.warned = true;
  self->delayed_send(self, r.pause->next(), reconnect_atom::value, key);
}

// One attempt to reconnect the node published at `key` ("host:port").
void reconnect(scheduler_actor* self, const std::string& key) {
  auto& st = self->state;
  auto it = st.reconnects.find(key);
  if (it == st.reconnects.end())
    return;  // back by other means
  ++it->second.attempts;
  auto colon = key.rfind(':');
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, reconnect_timeout, caf::connect_atom::value, key.substr(0, colon),
                static_cast<uint16_t>(std::stoul(key.substr(colon + 1))))
    .then(
      [self, key](const caf::node_id&, caf::strong_actor_ptr& ptr,
                  const std::set<std::string>&) {
        if (!ptr)
          return reconnect_failed(self, key, "nothing is published there");
        auto node = caf::actor_cast<caf::actor>(ptr);
        hello(
          self, node, reconnect_timeout,
          [self, key, node](detail::node_info& info) {
            auto& st = self->state;
            auto it = st.reconnects.find(key);
            if (it == st.reconnects.end())
              return;
            if (auto err = add_node(self, node, info, true))
              return reconnect_failed(self, key, describe(err));
            auto took = std::chrono::steady_clock::now() - it->second.since;
            detail::log(log_level::info,
                        "scheduler {}: reconnected node {} at {} ({} attempts, {:.2f} s)",
                        st.label, info.name, key, it->second.attempts,
                        std::chrono::duration<double>(took).count());
            st.reconnects.erase(key);
          },
          [self, key](caf::error& err) {
            reconnect_failed(self, key, self->system().render(err));
          });
      },
      [self, key](caf::error& err) { reconnect_failed(self, key, self->system().render(err)); });
}

void remove_node(scheduler_actor* self, node_index n, const caf::error& reason) {
  auto& st = self->state;
  auto& node = st.nodes[n];
  auto why = self->system().render(reason);
  auto running = st.core->nodes().running(n);
  detail::log(log_level::warning,
              "scheduler {}: node {} is down ({}); requeueing its {} running tasks",
              st.label, node.name, why, running);
  for (auto& t : st.core->remove_node(n)) {
    auto what = std::to_string(t.epoch + 1) + " nodes died while running it";
    detail::log(log_level::warning, "scheduler {}: task {} {}: {}; quarantined", st.label,
                t.id, st.core->function_name(t.fn), what);
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

void settle_start(scheduler_actor* self) {
  auto& st = self->state;
  if (st.started || st.hellos_outstanding > 0)
    return;
  st.started = true;
  if (!st.opts.nodes.empty() && st.core->nodes().size() == 0)
    st.start_error = make_error(errc::no_nodes_in_cluster,
                                "none of the " + std::to_string(st.opts.nodes.size())
                                  + " nodes answered within node_timeout");
  for (auto& rp : st.ready_waiters)
    if (st.start_error)
      rp.deliver(st.start_error);
    else
      rp.deliver(caf::ok_atom::value);
  st.ready_waiters.clear();
  if (st.start_error)
    self->quit(st.start_error);
}

// -- no node ---------------------------------------------------------------------

// Tasks pending and no node up: a run that waits must say so, now and then.
void watch_for_no_nodes(scheduler_actor* self) {
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

void check_no_nodes(scheduler_actor* self) {
  auto& st = self->state;
  st.no_nodes_check_armed = false;
  if (st.core->nodes().size() > 0 || st.core->pending() == 0) {
    st.no_nodes_since = {};
    return;
  }
  auto waited = std::chrono::steady_clock::now() - st.no_nodes_since;
  detail::log(log_level::warning,
              "scheduler {}: {} tasks pending and no node up for {:.0f} s; nodes can join "
              "where this scheduler is published (gasched-node --join HOST:PORT) or be "
              "added with add_node",
              st.label, st.core->pending(), std::chrono::duration<double>(waited).count());
  watch_for_no_nodes(self);
}

// -- stats -----------------------------------------------------------------------

stats make_stats(scheduler_actor* self) {
  auto& st = self->state;
  auto& core = *st.core;
  auto& count = core.count();
  stats s;
  s.ticks = count.ticks;
  s.pending = core.pending();
  s.running = core.running();
  s.worker_node_count = static_cast<uint32_t>(core.nodes().size());
  s.max_workers = core.nodes().max_workers();
  s.max_retries = st.policy.max_retries;
  core.nodes().for_each([&](node_index n) {
    s.worker_nodes.push_back(
      node_load{st.nodes[n].name, core.nodes().running(n), core.nodes().capacity(n)});
  });
  std::sort(s.worker_nodes.begin(), s.worker_nodes.end(),
            [](const node_load& a, const node_load& b) {
              return a.running != b.running ? a.running < b.running : a.node < b.node;
            });
  s.max_pending = st.opts.max_pending;
  s.prefetch = st.opts.prefetch;
  s.succeeded = count.succeeded;
  s.failed = count.failed;
  s.cancelled = count.cancelled;
  s.requeued = count.requeued;
  s.quarantined = count.quarantined;
  s.late_results = count.late_results;
  s.node_joins = st.node_joins;
  s.node_losses = st.node_losses;
  s.node_rejoins = st.node_rejoins;
  s.node_events.assign(st.node_events.begin(), st.node_events.end());
  return s;
}

// -- ending ----------------------------------------------------------------------

// Awaiters get an error rather than silence; nodes cancel our tasks themselves
// when they see us go down.
void fail_awaiters(scheduler_actor* self, const std::string& why) {
  auto& st = self->state;
  for (auto& [id, rp] : st.awaiters)
    rp.deliver(make_error(errc::cancelled, why));
  st.awaiters.clear();
}

void warn_if_unfinished(scheduler_actor* self, const std::string& why) {
  auto& st = self->state;
  if (!st.core->idle())
    detail::log(log_level::warning,
                "scheduler {}: {} with {} running and {} pending tasks", st.label, why,
                st.core->running(), st.core->pending());
}

// -- requests --------------------------------------------------------------------

caf::error check_task(const task& t) {
  if (t.function.empty())
    return make_error(errc::invalid_argument, "a task needs a function name");
  return caf::none;
}

// Takes a task into pending; its id, or why not.
caf::expected<task_id> accept(scheduler_actor* self, task& t) {
  if (auto err = check_task(t))
    return err;
  return self->state.core->enqueue(t.function, std::move(t.args), t.priority);
}

caf::error unknown_task(task_id id) {
  return make_error(errc::unknown_task,
                    "no pending or running task has id " + std::to_string(id));
}

// -- behavior --------------------------------------------------------------------

caf::behavior scheduler_behavior(scheduler_actor* self, scheduler_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.label = st.opts.name.empty() ? "scheduler-" + std::to_string(self->id())
                                   : st.opts.name;
  st.core = std::make_unique<detail::scheduler_core>(detail::core_limits{
    st.opts.max_workers, st.opts.max_pending, st.opts.max_node_failures, st.opts.prefetch});
  st.policy = detail::retry_policy{st.opts.max_retries, st.opts.retry_timeout,
                                   st.opts.retry_backoff, st.opts.retry_backoff_max,
                                   st.opts.retry_jitter};
  if (!st.opts.name.empty()) {
    detail::bind_name(self->system(), st.opts.name, self->address());
    self->attach_functor([&sys = self->system(), name = st.opts.name,
                          addr = self->address()] { detail::release_name(sys, name, addr); });
  }
  if (st.opts.client)
    self->monitor(st.opts.client);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.opts.client && msg.source == st.opts.client.address()) {
      // As gascheduler: the scheduler belongs to its client.
      warn_if_unfinished(self, "client exited (" + self->system().render(msg.reason) + ")");
      fail_awaiters(self, "the scheduler's client exited");
      self->quit(msg.reason);
      return;
    }
    if (auto it = st.index_of.find(msg.source); it != st.index_of.end())
      remove_node(self, it->second, msg.reason);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    warn_if_unfinished(self, "exiting (" + self->system().render(msg.reason) + ")");
    fail_awaiters(self, "the scheduler exited");
    self->quit(msg.reason);
  });
  // Ask the given nodes who they are; spawn_scheduler waits for ready_atom.
  std::vector<caf::actor> given;
  for (auto& node : st.opts.nodes)
    if (node && std::find(given.begin(), given.end(), node) == given.end())
      given.push_back(node);
  st.hellos_outstanding = given.size();
  for (auto& node : given)
    hello(
      self, node, st.opts.node_timeout,
      [self, node](detail::node_info& info) {
        if (auto err = add_node(self, node, info, true))
          detail::log(log_level::warning, "scheduler {}: {}", self->state.label,
                      describe(err));
        --self->state.hellos_outstanding;
        settle_start(self);
      },
      [self](caf::error& err) {
        detail::log(log_level::warning, "scheduler {}: a node did not answer: {}",
                    self->state.label, self->system().render(err));
        --self->state.hellos_outstanding;
        settle_start(self);
      });
  settle_start(self);
  return {
    // -- clients -------------------------------------------------------------------
    [self](execute_atom, task& t) -> caf::result<task_id> {
      auto id = accept(self, t);
      if (!id)
        return std::move(id.error());
      pump(self);
      return *id;
    },
    [self](execute_atom, std::vector<task>& ts) -> caf::result<std::vector<task_id>> {
      auto& st = self->state;
      for (auto& t : ts)
        if (auto err = check_task(t))
          return err;
      if (!st.core->has_room(ts.size()))
        return make_error(errc::queue_full,
                          std::to_string(ts.size()) + " tasks do not fit: max_pending is "
                            + std::to_string(st.opts.max_pending) + ", "
                            + std::to_string(st.core->pending()) + " pending");
      std::vector<task_id> ids;
      ids.reserve(ts.size());
      for (auto& t : ts)
        ids.push_back(*st.core->enqueue(t.function, std::move(t.args), t.priority));
      pump(self);
      return ids;
    },
    [self](await_atom, task& t) -> caf::result<task_result> {
      auto id = accept(self, t);
      if (!id)
        return std::move(id.error());
      auto rp = self->make_response_promise<task_result>();
      self->state.awaiters.emplace(*id, rp);
      pump(self);
      return rp;
    },
    [self](await_atom, task_id id) -> caf::result<task_result> {
      auto& st = self->state;
      if (!st.core->unfinished(id))
        return unknown_task(id);
      auto rp = self->make_response_promise<task_result>();
      st.awaiters.emplace(id, rp);
      return rp;
    },
    [self](cancel_atom, task_id id) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      auto t = st.core->cancel(id);
      if (!t)
        return unknown_task(id);
      if (t->was_running)
        self->send(st.nodes[t->node].actor, cancel_atom::value, id, t->epoch);
      deliver(self, make_result(self, *t, {}, make_error(errc::cancelled)));
      pump(self);
      return caf::ok_atom::value;
    },
    [self](stats_atom) {
      return make_stats(self);
    },
    [self](unfinished_atom) {
      std::vector<task> result;
      self->state.core->for_each_unfinished(
        [&](task_id, const std::string& fn, caf::message args, int32_t prio) {
          result.push_back(task{fn, std::move(args), prio});
        });
      return result;
    },
    [self](set_max_workers_atom, uint32_t n) {
      self->state.core->set_max_workers(n);
      pump(self);
      return caf::ok_atom::value;
    },
    [self](get_max_workers_atom) {
      return self->state.core->nodes().max_workers();
    },
    [self](set_retry_timeout_atom, caf::timespan d) -> caf::result<caf::ok_atom> {
      if (d.count() < 0)
        return make_error(errc::invalid_argument, "retry_timeout must not be negative");
      self->state.policy.retry_timeout = d;
      return caf::ok_atom::value;
    },
    [self](stop_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      auto& core = *st.core;
      caf::error left;
      if (!core.idle()) {
        left = make_error(errc::not_empty, std::to_string(core.running()) + " running, "
                                             + std::to_string(core.pending())
                                             + " pending");
        warn_if_unfinished(self, "stopping");
      }
      fail_awaiters(self, "the scheduler stopped");
      self->quit();
      if (left)
        return left;
      return caf::ok_atom::value;
    },
    [self](ready_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (!st.started) {
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.ready_waiters.push_back(rp);
        return rp;
      }
      if (st.start_error)
        return st.start_error;
      return caf::ok_atom::value;
    },
    // -- nodes ---------------------------------------------------------------------
    [self](add_node_atom, caf::actor node) -> caf::result<caf::ok_atom> {
      if (!node)
        return make_error(errc::invalid_argument, "add_node needs a node actor");
      if (self->state.index_of.count(node.address()) > 0)
        return caf::ok_atom::value;
      auto rp = self->make_response_promise<caf::ok_atom>();
      hello(
        self, node, self->state.opts.node_timeout,
        [self, node, rp](detail::node_info& info) mutable {
          if (auto err = add_node(self, node, info, true))
            rp.deliver(err);
          else
            rp.deliver(caf::ok_atom::value);
        },
        [self, rp](caf::error& err) mutable {
          rp.deliver(make_error(errc::node_not_found,
                                "the node did not answer: "
                                  + self->system().render(err)));
        });
      return rp;
    },
    [self](join_atom, detail::node_info& info) -> caf::result<caf::ok_atom> {
      auto node = caf::actor_cast<caf::actor>(self->current_sender());
      if (!node)
        return make_error(errc::invalid_argument, "join needs a sender");
      if (auto err = add_node(self, node, info, false))
        return err;
      return caf::ok_atom::value;
    },
    [self](done_atom, detail::done_batch& batch) {
      auto& st = self->state;
      for (auto& o : batch.outcomes) {
        auto t = st.core->complete(o.id, o.epoch, !o.error);
        if (!t) {
          detail::log(log_level::debug, "scheduler {}: dropped a late result of task {}",
                      st.label, o.id);
          continue;
        }
        deliver(self, make_result(self, *t, std::move(o.value), std::move(o.error)));
      }
      pump(self, false);
    },
    [self](flush_atom) {
      self->state.flush_scheduled = false;
      flush(self, false);
    },
    [self](reconnect_atom, const std::string& key) {
      reconnect(self, key);
    },
    [self](no_nodes_atom) {
      check_no_nodes(self);
    },
  };
}

caf::error check(const scheduler_options& opts) {
  auto bad = [](std::string what) { return make_error(errc::invalid_argument, std::move(what)); };
  if (opts.retry_timeout.count() < 0)
    return bad("retry_timeout must not be negative");
  if (opts.retry_backoff < 1.0)
    return bad("retry_backoff must be at least 1.0");
  if (opts.retry_backoff_max.count() < 0)
    return bad("retry_backoff_max must not be negative");
  if (opts.node_timeout.count() <= 0)
    return bad("node_timeout must be positive");
  if (opts.max_node_failures == 0)
    return bad("max_node_failures must be at least 1");
  return caf::none;
}

} // namespace

caf::expected<caf::actor> spawn_scheduler(caf::actor_system& sys, scheduler_options opts) {
  if (auto err = check(opts))
    return err;
  if (!opts.name.empty() && !detail::claim_name(sys, opts.name))
    return make_error(errc::name_in_use, "a scheduler named " + opts.name
                                           + " is already running");
  auto timeout = opts.node_timeout + std::chrono::seconds(5);
  auto name = opts.name;
  auto sched = sys.spawn(scheduler_behavior, std::move(opts));
  caf::error err;
  caf::scoped_actor self{sys};
  self->request(sched, timeout, ready_atom::value)
    .receive([](caf::ok_atom) {}, [&](caf::error& e) { err = std::move(e); });
  if (err) {
    // Its name must be free again when we return.
    self->send_exit(sched, caf::exit_reason::user_shutdown);
    if (!name.empty())
      detail::release_name(sys, name, sched.address());
    return err;
  }
  return sched;
}

caf::actor find_scheduler(caf::actor_system& sys, const std::string& name) {
  return detail::lookup_name(sys, name);
}

} // namespace gasched
