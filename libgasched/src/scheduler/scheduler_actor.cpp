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
// starting_behavior and running_behavior are the two states; `done` is the
// actor's end. While starting, anything but the hello answers and ready_atom
// waits in the mailbox. With tasks pending and no node up, the scheduler says
// so every no_nodes_warning.
//
// The work is in scheduler/: requests.cpp (what clients and nodes ask),
// results.cpp (results, stats), dispatch.cpp (batched orders), nodes.cpp
// (nodes coming and going), journal.cpp (commits), access.cpp (who may do
// what).

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/scheduler.hpp"
#include "gasched/scheduler_actor.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"
#include "scheduler/directory.hpp"

namespace gasched {

namespace {

using namespace detail;

// -- running ---------------------------------------------------------------------

// Whether the message at hand is one the scheduler sent itself.
bool from_self(scheduler_self self) {
  return self->current_sender() == self->ctrl();
}

scheduler_impl::behavior_type running_behavior(scheduler_self self) {
  return {
    // -- clients: anyone --------------------------------------------------------------
    [self](execute_atom, task& t) { return execute_one(self, t); },
    [self](execute_atom, std::vector<task>& ts) { return execute_batch(self, ts); },
    [self](await_atom, task& t) { return await_task(self, t); },
    [self](await_atom, task_id id) { return await_id(self, id); },
    [self](cancel_atom, task_id id) { return cancel_task(self, id); },
    [self](subscribe_atom) { return subscribe(self); },
    [self](stats_atom) { return make_stats(self); },
    [self](unfinished_atom) { return unfinished_tasks(self); },
    [self](get_max_workers_atom) { return self->state.core->nodes().max_workers(); },
    [self](ready_atom) { return caf::ok_atom::value; },
    // -- clients: the scheduler's own process, its client and admins ----------------
    [self](set_max_workers_atom, uint32_t n) { return set_max_workers(self, n); },
    [self](set_retry_timeout_atom, caf::timespan d) { return set_retry_timeout(self, d); },
    [self](stop_atom) { return stop(self); },
    [self](note_atom, std::string& key, std::string& value) {
      return set_note(self, key, value);
    },
    [self](note_atom, const std::string& key) { return get_note(self, key); },
    [self](add_node_atom, caf::actor node) { return add_node_request(self, node); },
    // -- nodes ------------------------------------------------------------------------
    [self](join_atom, node_info& info) { return join(self, info); },
    [self](join_atom, node_info& info, lease_list& held) { return join(self, info, held); },
    [self](done_atom, done_batch& batch) { take_outcomes(self, batch); },
    // -- its own timers: from itself only (a peer could otherwise force a
    // commit, an fsync, per message) ------------------------------------------------
    [self](flush_atom) {
      if (!from_self(self))
        return;
      self->state.flush_scheduled = false;
      flush(self, false);
    },
    [self](reconnect_atom, const std::string& key) {
      if (from_self(self))
        reconnect(self, key);
    },
    [self](no_nodes_atom) {
      if (from_self(self))
        check_no_nodes(self);
    },
    [self](commit_atom) {
      if (from_self(self))
        commit(self);
    },
    [self](results_atom) {
      if (from_self(self))
        flush_subscribers(self);
    },
    [self](adopt_atom) {
      if (from_self(self))
        release_unadopted(self);
    },
  };
}

// -- starting --------------------------------------------------------------------

// Every given node answered or timed out: run, or end when none answered.
void settle_start(scheduler_self self) {
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
  if (st.start_error) {
    self->quit(st.start_error);
    return;
  }
  self->set_default_handler(drop_unexpected);
  self->become(running_behavior(self));
}

// Asks the given nodes who they are; spawn_scheduler waits for ready_atom.
void greet_given_nodes(scheduler_self self) {
  auto& st = self->state;
  std::vector<node_actor> given;
  for (auto& handle : st.opts.nodes) {
    auto node = caf::actor_cast<node_actor>(handle);  // the interface is internal
    if (node && std::find(given.begin(), given.end(), node) == given.end())
      given.push_back(std::move(node));
  }
  st.hellos_outstanding = given.size();
  auto answered = [self] {
    --self->state.hellos_outstanding;
    settle_start(self);
  };
  for (auto& node : given)
    hello(
      self, node, st.opts.node_timeout,
      [self, node, answered](node_info& info) {
        if (auto err = add_node(self, node, info, true))
          log(log_level::warning, "scheduler {}: {}", self->state.label, describe(err));
        answered();
      },
      [self, answered](caf::error& err) {
        log(log_level::warning, "scheduler {}: a node did not answer: {}", self->state.label,
            self->system().render(err));
        answered();
      });
}

scheduler_impl::behavior_type starting_behavior(scheduler_self self) {
  // Requests that come before the nodes answered wait for the running state:
  // this state takes one message and skips the rest (so it is a partial
  // behaviour, which a typed one cannot be but through unsafe_init).
  self->set_default_handler(static_cast<caf::skip_t::fun>(caf::skip));
  caf::behavior ready{
    [self](ready_atom) -> caf::result<caf::ok_atom> {
      auto rp = self->make_response_promise<caf::ok_atom>();
      self->state.ready_waiters.push_back(rp);
      return rp;
    },
  };
  return {scheduler_impl::behavior_type::unsafe_init{}, std::move(ready)};
}

void on_down(scheduler_self self, caf::down_msg& msg) {
  auto& st = self->state;
  if (st.opts.client && msg.source == st.opts.client.address()) {
    // As gascheduler: the scheduler belongs to its client.
    warn_if_unfinished(self, "client exited (" + self->system().render(msg.reason) + ")");
    commit_now(self);
    fail_awaiters(self, "the scheduler's client exited");
    self->quit(msg.reason);
    return;
  }
  if (auto it = st.index_of.find(msg.source); it != st.index_of.end())
    remove_node(self, it->second, msg.reason);
  else
    forget_subscriber(self, msg.source);
}

void on_exit(scheduler_self self, caf::exit_msg& msg) {
  if (!exit_allowed(self, msg))
    return;
  warn_if_unfinished(self, "exiting (" + self->system().render(msg.reason) + ")");
  commit_now(self);
  fail_awaiters(self, "the scheduler exited");
  self->quit(msg.reason);
}

scheduler_impl::behavior_type scheduler(scheduler_self self, scheduler_options opts,
                                        std::shared_ptr<durable_journal> journal) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.label = st.opts.name.empty() ? "scheduler-" + std::to_string(self->id()) : st.opts.name;
  st.core = std::make_unique<scheduler_core>(core_limits{
    st.opts.max_workers, st.opts.max_pending, st.opts.max_node_failures, st.opts.prefetch});
  st.policy = retry_policy{st.opts.max_retries, st.opts.retry_timeout, st.opts.retry_backoff,
                           st.opts.retry_backoff_max, st.opts.retry_jitter};
  if (journal) {
    // Resumes what the journal held: pending in order, running back to the front.
    auto snapshot = journal->take_snapshot();
    st.first_own_id = snapshot.next_id;
    if (auto err = st.core->restore(std::move(snapshot))) {
      log(log_level::error, "scheduler {}: {}", st.label, describe(err));
      self->quit(err);
      return scheduler_impl::behavior_type::make_empty_behavior();
    }
    st.core->set_journal(journal.get());
    st.journal = std::move(journal);
    on_commit_written(self);
    log(log_level::info, "scheduler {}: journal {}: resumed {} pending tasks, {} of them "
        "running when it stopped (they wait {:.1f} s for their nodes to claim them)",
        st.label, st.journal->path(), st.core->pending() + st.core->unadopted(),
        st.core->unadopted(), std::chrono::duration<double>(st.opts.adopt_wait).count());
    if (st.core->unadopted() > 0) {
      st.claims_open = true;
      self->delayed_send(self, st.opts.adopt_wait, adopt_atom::value);
    }
  }
  if (!st.opts.name.empty()) {
    bind_name(self->system(), st.opts.name, self->address());
    self->attach_functor([&sys = self->system(), name = st.opts.name,
                          addr = self->address()] { release_name(sys, name, addr); });
  }
  if (st.opts.client)
    self->monitor(st.opts.client);
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  self->set_exit_handler([self](caf::exit_msg& msg) { on_exit(self, msg); });
  greet_given_nodes(self);
  if (st.hellos_outstanding == 0) {
    st.started = true;  // no node given: running at once
    return running_behavior(self);
  }
  return starting_behavior(self);
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

caf::expected<scheduler_actor> spawn_scheduler(caf::actor_system& sys, scheduler_options opts) {
  if (auto err = check(opts))
    return err;
  if (!opts.name.empty() && !detail::claim_name(sys, opts.name))
    return make_error(errc::name_in_use, "a scheduler named " + opts.name
                                           + " is already running");
  std::shared_ptr<detail::durable_journal> journal;
  if (!opts.journal.empty()) {
    detail::journal_options jo;
    jo.keep_results = opts.keep_results;
    jo.sync_every_commit = opts.journal_sync;
    auto opened = detail::durable_journal::open(sys, opts.journal, jo);
    if (!opened) {
      if (!opts.name.empty())
        detail::release_name(sys, opts.name, caf::actor_addr{});
      return std::move(opened.error());
    }
    journal = std::move(*opened);
  }
  auto timeout = opts.node_timeout + std::chrono::seconds(5);
  auto name = opts.name;
  auto sched = sys.spawn(scheduler, std::move(opts), std::move(journal));
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
  return scheduler_actor{sched};
}

scheduler_actor find_scheduler(caf::actor_system& sys, const std::string& name) {
  return caf::actor_cast<scheduler_actor>(detail::lookup_name(sys, name));
}

} // namespace gasched
