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
// On a PostgreSQL journal shared with other schedulers (pg_leader.hpp) a
// scheduler that does not get the lease at spawn starts as a standby:
//
//   ( standby ) ──the lease's thread got the lease and resumed the journal──> as spawn
//        |         (lease_atom): restore, greet the given nodes          (starting/running)
//        └─ stats, ready, stop answered; anything else errc::standby
//           naming the active's address
//   ( running ) ──the lease's thread lost the lease (lease_atom), or a commit
//                 is fenced──> ( done ): stepped down, exits with errc::standby
//
// starting_behavior, running_behavior and standby_behavior are the states; `done` is the
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
    [self](lease_atom) {
      if (!from_self(self) || !self->state.news)
        return;
      caf::error lost;
      {
        std::lock_guard<std::mutex> guard{self->state.news->mx};
        lost = self->state.news->lost;
      }
      if (lost)
        step_down(self, lost);
    },
  };
}

// -- standby -----------------------------------------------------------------------

scheduler_impl::behavior_type active_behavior(scheduler_self self);

// The lease's thread got the lease and resumed the journal (or failed to).
void on_lease_news(scheduler_self self) {
  auto& st = self->state;
  std::unique_ptr<durable_journal> journal;
  caf::error err;
  {
    std::lock_guard<std::mutex> guard{st.news->mx};
    journal = std::move(st.news->journal);
    err = st.news->open_error ? st.news->open_error : st.news->lost;
  }
  if (!journal) {
    if (err) {
      log(log_level::error, "scheduler {}: cannot take over: {}", st.label, describe(err));
      self->quit(err);
    }
    return;
  }
  if (!take_journal(self, std::move(journal)))
    return;
  auto v = st.leader->view();
  log(log_level::warning,
      "scheduler {}: took over: role active at {}, generation {}; journal {}: {} unfinished "
      "tasks resumed",
      st.label, st.opts.advertise, st.core->generation(), st.journal->path(),
      st.core->pending());
  self->become(active_behavior(self));
}

scheduler_impl::behavior_type standby_behavior(scheduler_self self) {
  auto no = [self] { return standby_error(self); };
  return {
    [=](execute_atom, task&) -> caf::result<task_id> { return no(); },
    [=](execute_atom, std::vector<task>&) -> caf::result<std::vector<task_id>> {
      return no();
    },
    [=](await_atom, task&) -> caf::result<task_result> { return no(); },
    [=](await_atom, task_id) -> caf::result<task_result> { return no(); },
    [=](cancel_atom, task_id) -> caf::result<caf::ok_atom> { return no(); },
    [=](subscribe_atom) -> caf::result<caf::ok_atom> { return no(); },
    [self](stats_atom) { return make_stats(self); },
    [=](unfinished_atom) -> caf::result<std::vector<task>> { return no(); },
    [=](get_max_workers_atom) -> caf::result<uint32_t> { return no(); },
    [self](ready_atom) { return caf::ok_atom::value; },
    [=](set_max_workers_atom, uint32_t) -> caf::result<caf::ok_atom> { return no(); },
    [=](set_retry_timeout_atom, caf::timespan) -> caf::result<caf::ok_atom> { return no(); },
    [self](stop_atom) -> caf::result<caf::ok_atom> {
      if (auto err = check_admin(self, "stop"))
        return err;
      self->quit();
      return caf::ok_atom::value;
    },
    [=](note_atom, std::string&, std::string&) -> caf::result<caf::ok_atom> { return no(); },
    [=](note_atom, const std::string&) -> caf::result<std::string> { return no(); },
    [=](add_node_atom, caf::actor) -> caf::result<caf::ok_atom> { return no(); },
    [=](join_atom, node_info&) -> caf::result<caf::ok_atom> { return no(); },
    [=](join_atom, node_info&, lease_list&) -> caf::result<lease_list> { return no(); },
    [](done_atom, done_batch&) {},
    [](flush_atom) {},
    [](reconnect_atom, const std::string&) {},
    [](no_nodes_atom) {},
    [](commit_atom) {},
    [](results_atom) {},
    [](adopt_atom) {},
    [self](lease_atom) {
      if (from_self(self))
        on_lease_news(self);
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
                                        std::shared_ptr<durable_journal> journal,
                                        std::shared_ptr<pg_leader> leader) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.label = st.opts.name.empty() ? "scheduler-" + std::to_string(self->id()) : st.opts.name;
  st.core = std::make_unique<scheduler_core>(core_limits{
    st.opts.max_workers, st.opts.max_pending, st.opts.max_node_failures, st.opts.prefetch});
  st.policy = retry_policy{st.opts.max_retries, st.opts.retry_timeout, st.opts.retry_backoff,
                           st.opts.retry_backoff_max, st.opts.retry_jitter};
  st.leader = std::move(leader);
  if (journal) {
    if (!take_journal(self, std::move(journal)))
      return scheduler_impl::behavior_type::make_empty_behavior();
    log(log_level::info, "scheduler {}: journal {}: resumed {} pending tasks, {} of them "
        "running when it stopped (they wait {:.1f} s for their nodes to claim them)",
        st.label, st.journal->path(), st.core->pending() + st.core->unadopted(),
        st.core->unadopted(), std::chrono::duration<double>(st.opts.adopt_wait).count());
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
  if (st.leader) {
    start_lease(self);
    if (!st.journal) {
      log(log_level::info, "scheduler {}: standby on journal {}; the active scheduler is at {}",
          st.label, st.leader->where(), st.leader->view().active);
      self->set_default_handler(drop_unexpected);
      return standby_behavior(self);
    }
  }
  return active_behavior(self);
}

// Greets the given nodes, then runs.
scheduler_impl::behavior_type active_behavior(scheduler_self self) {
  auto& st = self->state;
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
  if (opts.lease_time.count() < 40)
    return bad("lease_time must be at least 40 ms (it is renewed every quarter)");
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
  std::shared_ptr<detail::pg_leader> leader;
  auto refused = [&](caf::error err) {
    if (!opts.name.empty())
      detail::release_name(sys, opts.name, caf::actor_addr{});
    return err;
  };
  if (detail::is_pg_url(opts.journal)) {
    // Shared with standbys: the journal is opened by whoever holds the lease.
    detail::pg_leader::options lo{opts.journal, opts.advertise, opts.lease_time};
    lo.cluster = opts.journal_cluster;
    auto opened = detail::pg_leader::open(std::move(lo));
    if (!opened)
      return refused(std::move(opened.error()));
    leader = std::move(*opened);
  }
  if (!opts.journal.empty() && (!leader || leader->holds())) {
    auto opened = detail::durable_journal::open(
      sys, opts.journal, detail::journal_options_for(opts, leader.get()));
    if (!opened)
      return refused(std::move(opened.error()));
    journal = std::move(*opened);
  }
  auto timeout = opts.node_timeout + std::chrono::seconds(5);
  auto name = opts.name;
  auto sched = sys.spawn(scheduler, std::move(opts), std::move(journal), std::move(leader));
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
