// The node actor: one per process. It owns the task registry and supervises
// the task-worker actors that run tasks (task_pool.hpp); it never runs a
// task itself, so it always answers.
//
// In join mode it keeps itself joined to a scheduler published at an address,
// as an Erlang node re-adds itself on nodeup:
//
//            start                        ok
//   ( joining ) ───connect + join──────────────> ( joined )
//        ^    \__ failed: retry after a pause       |
//        |        (backoff with jitter, bounded)     | scheduler down (its process died,
//        |                                           | or the link was cut or went silent):
//        └───────────────────────────────────────────┘ keep its tasks running, join again
//
// Adoption: the join names the leases the node still holds from the lost
// scheduler (running, waiting, or finished with the outcome kept in the
// outbox); the scheduler answers those it adopts (a scheduler restarted on
// its journal, or a standby that took over, knows them); their outcomes go
// to it, and the node cancels the rest, which run elsewhere by now. Without
// a join within node_options::keep_orphans they are cancelled all the same.
//
// With several addresses (node_options::join) each attempt takes the next one
// (active_search), a standby's errc::standby or standby_atom naming the active
// one goes first, and the pause comes only after a round found none.
//
// A scheduler that comes back at the same address after a cut is the same
// actor: it adopts nothing, so whatever the node still ran for the lost
// connection is cancelled here and fenced by the lease at the scheduler.
// Any scheduler may also be handed this node (hello_atom); the node watches
// every scheduler that sends it work and cancels that work when it goes down.

#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "gasched/active_search.hpp"
#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/node.hpp"
#include "guarded_actor.hpp"
#include "logging.hpp"
#include "net/host_name.hpp"
#include "net/network_failure.hpp"
#include "net/reconnect_episode.hpp"
#include "net/tls.hpp"
#include "node/task_pool.hpp"
#include "wire.hpp"

namespace gasched {

namespace {

struct node_state {
  node_options opts;                        // name, slots, join address, bounds
  std::shared_ptr<const registry> reg;      // the functions it runs (a copy)
  std::shared_ptr<detail::task_pool> pool;  // the task workers that run them
  // Schedulers it takes orders from (joined, or greeted it), monitored: when
  // one goes down its tasks here are cancelled.
  std::unordered_set<caf::actor_addr> schedulers;
  detail::scheduler_for_nodes joined;             // join mode: our scheduler
  // join mode: the scheduler asked to take us. It may send orders before its
  // answer arrives (it dispatches while it handles the join).
  caf::actor_addr joining;
  // join mode: the current episode of joining, restarted when the joined
  // scheduler is lost.
  std::optional<detail::reconnect_episode> rejoin;
  // join mode: the schedulers' addresses, which to try next, and the one
  // being joined or joined.
  std::optional<active_search> search;
  address target;
  // join mode: a lost scheduler's tasks kept running for a scheduler to
  // adopt (node_options::keep_orphans). Each loss is an episode with a timer.
  bool orphans = false;
  uint64_t orphan_episode = 0;
  bool claiming = false;  // a join naming them is on its way
  // Adopted leases, by the lost scheduler's address their job runs under:
  // a cancel from the adopting scheduler reaches them.
  std::map<detail::outbox::lease, caf::actor_addr> adopted_from;
  static inline const char* name = "gasched.node";
};

// The node's handle as schedulers see it is detail::node_actor; this actor
// also takes its own process's and timers' messages (detail::node_impl).
using node_self = caf::stateful_actor<node_state, detail::guarded<detail::node_impl::base>>;
using detail::scheduler_for_nodes;

// "(int32_t, std::vector<int32_t>)": built-in types by their C++ name, the
// others by the name they were registered under.
std::string type_list_of(caf::actor_system& sys, const caf::message& m) {
  std::string result = "(";
  for (size_t i = 0; i < m.size(); ++i) {
    if (i > 0)
      result += ", ";
    auto t = m.type(i);
    auto& registered = sys.types().portable_name(t);
    result += t.first != 0 || registered.empty() ? detail::type_label(t.first, t.second)
                                                 : registered;
  }
  return result + ")";
}

void watch(node_self* self, const detail::scheduler_for_nodes& scheduler) {
  if (self->state.schedulers.insert(scheduler.address()).second)
    self->monitor(scheduler);
}

std::string join_address(const node_state& st) {
  return to_string(st.target);
}

// The addresses to join: join_host:join_port, then opts.join.
std::vector<address> join_candidates(const node_options& opts) {
  std::vector<address> result;
  if (!opts.join_host.empty())
    result.push_back(address{opts.join_host, opts.join_port});
  for (auto& text : opts.join) {
    if (auto a = parse_address(text))
      result.push_back(std::move(*a));
    else
      detail::log(log_level::warning, "node {}: ignored the join address {}: not HOST:PORT",
                  opts.name, text);
  }
  return result;
}

// The next attempt: at once while addresses of this round are left (or a
// standby named the active), after a pause once every one was tried.
void next_attempt(node_self* self) {
  auto& st = self->state;
  if (!st.search->round_over()) {
    self->send(self, rejoin_atom::value);
    return;
  }
  st.search->new_round();
  self->delayed_send(self, st.rejoin->next_pause(), rejoin_atom::value);
}

// Logs the first failure of an episode at warning level, the rest at debug:
// a node waiting for its scheduler must say so, but not ten times a second.
void join_failed(node_self* self, const std::string& why) {
  auto& st = self->state;
  detail::log(st.rejoin->failure_level(), "node {}: cannot join the scheduler at {}: {}; retrying",
              st.opts.name, join_address(st), why);
  next_attempt(self);
}

void joined(node_self* self, scheduler_for_nodes scheduler) {
  auto& st = self->state;
  detail::log(log_level::info, "node {} joined the scheduler at {} ({} attempts, {:.2f} s)",
              st.opts.name, join_address(st), st.rejoin->attempts(), st.rejoin->seconds());
  st.joined = std::move(scheduler);
  st.search->new_round();
  watch(self, st.joined);
}

// Timeouts are short: a connect or join stuck on a cut link must not delay
// the next attempt once the link heals.
constexpr auto join_timeout = std::chrono::seconds(2);

using lease = detail::outbox::lease;

// The jobs in hand whose outcomes would be kept: a lost scheduler's.
std::vector<detail::task_pool::held_lease> orphan_jobs(node_self* self) {
  auto& pool = *self->state.pool;
  std::vector<detail::task_pool::held_lease> result;
  for (auto& l : pool.leases())
    if (pool.outcomes().kept_for(l.scheduler, lease{l.id, l.epoch}))
      result.push_back(l);
  return result;
}

// What the join names: the kept tasks, running, waiting or finished.
detail::lease_list claims(node_self* self) {
  detail::lease_list result;
  if (!self->state.orphans)
    return result;
  std::set<lease> seen;
  auto add = [&](lease l) {
    if (seen.insert(l).second) {
      result.ids.push_back(l.first);
      result.epochs.push_back(l.second);
    }
  };
  for (auto& l : orphan_jobs(self))  // before the outbox: a job that ends
    add(lease{l.id, l.epoch});       // in between is then in the outbox
  for (auto& l : self->state.pool->outcomes().kept())
    add(l);
  return result;
}

void keep_orphans(node_self* self, const caf::actor_addr& scheduler) {
  auto& st = self->state;
  st.pool->outcomes().hold(scheduler);
  st.orphans = true;
  self->delayed_send(self, st.opts.keep_orphans, orphans_atom::value, ++st.orphan_episode);
}

// The joined scheduler answered which kept tasks it adopts: they go on for
// it; the others are cancelled (the scheduler runs them elsewhere).
void adopt_orphans(node_self* self, const scheduler_for_nodes& scheduler,
                   const detail::lease_list& answer) {
  auto& st = self->state;
  if (!st.orphans)
    return;
  std::set<lease> yes;
  for (size_t i = 0; i < answer.ids.size() && i < answer.epochs.size(); ++i)
    yes.emplace(answer.ids[i], answer.epochs[i]);
  st.adopted_from.clear();
  size_t cancelled = 0;
  for (auto& l : orphan_jobs(self)) {
    if (yes.count(lease{l.id, l.epoch}) > 0) {
      st.adopted_from.emplace(lease{l.id, l.epoch}, l.scheduler);
    } else {
      st.pool->cancel(l.scheduler, l.id, l.epoch);
      ++cancelled;
    }
  }
  st.pool->outcomes().adopt(scheduler, {yes.begin(), yes.end()});
  st.orphans = false;
  detail::log(log_level::info, "node {}: the scheduler at {} adopted {} tasks it kept; {} "
              "others cancelled", st.opts.name, join_address(st), yes.size(), cancelled);
}

// Cancels the kept tasks; returns how many ran.
size_t cancel_orphans(node_self* self) {
  auto& st = self->state;
  auto jobs = orphan_jobs(self);
  for (auto& l : jobs)
    st.pool->cancel(l.scheduler, l.id, l.epoch);
  st.pool->outcomes().release();
  st.orphans = false;
  return jobs.size();
}

// The bound passed with no scheduler joined: the kept tasks are cancelled.
void drop_orphans(node_self* self, uint64_t episode) {
  auto& st = self->state;
  if (!st.orphans || episode != st.orphan_episode)
    return;
  if (st.claiming) {  // its answer decides; a join is bounded by join_timeout
    self->delayed_send(self, join_timeout, orphans_atom::value, episode);
    return;
  }
  auto n = cancel_orphans(self);
  detail::log(log_level::warning, "node {}: no scheduler adopted the {} tasks it kept "
              "running within {:.0f} s; cancelled", st.opts.name, n,
              std::chrono::duration<double>(st.opts.keep_orphans).count());
}

void try_join(node_self* self) {
  auto& st = self->state;
  st.rejoin->attempt();
  st.target = st.search->next();
  auto mm = detail::middleman_of(self->system());
  self->request(mm, join_timeout, caf::connect_atom::value, st.target.host, st.target.port)
    .then(
      [self](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (!ptr) {
          join_failed(self, "nothing is published there");
          return;
        }
        // The handle may be CAF's cached one of a connection that just
        // died: the join request then fails, and the next attempt connects anew.
        auto scheduler = caf::actor_cast<scheduler_for_nodes>(ptr);
        auto& st = self->state;
        // The very scheduler it lost (a cut, not a restart): it adopts
        // nothing, and its new orders' outcomes must not be kept.
        if (st.orphans && st.pool->outcomes().holds(scheduler.address()))
          cancel_orphans(self);
        st.joining = scheduler.address();
        st.claiming = true;
        self->request(scheduler, join_timeout, join_atom::value,
                      detail::node_info{st.opts.name, st.opts.slots}, claims(self))
          .then([self, scheduler](detail::lease_list& adopted) {
                  self->state.claiming = false;
                  adopt_orphans(self, scheduler, adopted);
                  joined(self, scheduler);
                },
                [self](caf::error& err) {
                  self->state.claiming = false;
                  // A standby names the active scheduler: tried next.
                  if (auto active = standby_active(err))
                    self->state.search->follow(*active);
                  join_failed(self, "join refused: " + describe(err));
                });
      },
      [self](caf::error& err) {
        // The cause, for the warning; the retries log at debug level only,
        // and connect_failure may probe the peer for half a second.
        auto& st = self->state;
        auto warned = st.rejoin && st.rejoin->warned();
        join_failed(self, warned ? self->system().render(err)
                                    : detail::connect_failure(self->system(), err,
                                                              st.target.host,
                                                              st.target.port));
      });
}

void start_joining(node_self* self) {
  auto& st = self->state;
  st.rejoin->restart();
  st.search->new_round();
  // A short pause first: CAF's middleman may still hand out the handle of
  // the connection that just died.
  self->delayed_send(self, st.rejoin->next_pause(), rejoin_atom::value);
}

// Slots 0 means "as many as the scheduler's max_workers", which the node
// cannot know; its threads are still bounded, so that no sender can grow it
// without limit.
constexpr uint32_t unbounded_slots = 256;

uint32_t thread_bound(const node_options& opts) {
  return opts.slots > 0 ? opts.slots : unbounded_slots;
}

// The retry policy a scheduler asks for, within the node's own bounds.
detail::retry_policy bounded(detail::retry_policy p, const node_options& opts) {
  if (opts.max_attempts > 0 && (p.max_retries == infinity || p.max_retries > opts.max_attempts))
    p.max_retries = opts.max_attempts;
  p.retry_timeout = std::max(p.retry_timeout, opts.min_retry_pause);
  return p;
}

// One line per refusal at most every second: a sender that keeps trying
// must not flood the log.
void log_refusal(node_self* self, const std::string& what) {
  static thread_local std::chrono::steady_clock::time_point last;
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::seconds(1))
    return;
  last = now;
  detail::log(log_level::warning, "node {}: refused {}", self->state.opts.name, what);
}

// Why the node cannot run `order`, if it cannot.
caf::error check_order(node_self* self, const detail::run_order& order,
                       const registry::function* fn) {
  auto& st = self->state;
  if (fn == nullptr)
    return make_error(errc::unknown_function,
                      "node " + st.opts.name + " has no function " + order.function);
  if (!fn->accepts(order.args))
    return make_error(errc::bad_arguments, order.function + " expects " + fn->signature
                                             + " but got "
                                             + type_list_of(self->system(), order.args));
  return caf::none;
}

// Orders from a scheduler this node serves: handed to it (hello) or joined.
void take_orders(node_self* self, detail::run_batch& batch) {
  auto& st = self->state;
  auto scheduler = caf::actor_cast<scheduler_for_nodes>(self->current_sender());
  if (!scheduler)
    return;
  auto bound = thread_bound(st.opts);
  caf::error refused_all;
  if (scheduler.address() == st.joining)
    watch(self, scheduler);  // orders before the answer to our join
  if (st.schedulers.count(scheduler.address()) == 0)
    refused_all = make_error(errc::not_allowed, "node " + st.opts.name
                                                  + " takes orders only from a scheduler "
                                                    "it joined or that greeted it");
  else if (st.pool->held(scheduler.address()) + batch.orders.size() > size_t{bound} * 101)
    refused_all = make_error(errc::not_allowed, "node " + st.opts.name + " holds at most "
                                                  + std::to_string(bound * 101) + " tasks");
  if (refused_all)
    log_refusal(self, describe(refused_all));
  auto policy = std::make_shared<const detail::retry_policy>(bounded(batch.policy, st.opts));
  std::vector<detail::job_ptr> jobs;
  jobs.reserve(batch.orders.size());
  for (auto& order : batch.orders) {
    auto fn = refused_all ? nullptr : st.reg->find(order.function);
    auto refused = refused_all ? refused_all : check_order(self, order, fn);
    if (refused) {
      // Final: another attempt would fail the same way.
      if (!refused_all)
        detail::log(log_level::warning, "task {} on {}: {}", order.id, st.opts.name,
                    describe(refused));
      st.pool->post(scheduler, detail::run_outcome{order.id, order.epoch, {}, refused});
      continue;
    }
    auto job = std::make_shared<detail::task_job>();
    job->scheduler = scheduler;
    job->id = order.id;
    job->epoch = order.epoch;
    job->function = std::move(order.function);
    job->fn = fn;
    job->args = std::move(order.args);
    job->policy = policy;
    jobs.push_back(std::move(job));
  }
  // A node runs at most its own slots, whatever the scheduler allows.
  auto limit = batch.capacity == 0 ? bound : std::min(batch.capacity, bound);
  st.pool->submit(scheduler, limit, std::move(jobs));
}

// A scheduler this node served is gone, or stepped down to standby: its
// work here is cancelled (fenced at the scheduler by the lease); in join
// mode it is kept for the scheduler joined next to adopt.
void leave_scheduler(node_self* self, const caf::actor_addr& scheduler, const std::string& why) {
  auto& st = self->state;
  if (st.schedulers.erase(scheduler) == 0)
    return;
  auto was_joined = st.joined && st.joined.address() == scheduler;
  auto keep = was_joined && st.opts.keep_orphans.count() > 0;
  if (keep) {
    keep_orphans(self, scheduler);
  } else {
    st.pool->cancel_all(scheduler);
    st.pool->outcomes().forget(scheduler);
  }
  if (was_joined) {
    detail::log(log_level::warning, "node {}: lost the scheduler at {} ({}); rejoining{}",
                st.opts.name, join_address(st), why,
                keep ? fmt::format("; its tasks here keep running for up to {:.0f} s for "
                                   "a scheduler to adopt",
                                   std::chrono::duration<double>(st.opts.keep_orphans).count())
                     : std::string{});
    st.joined = nullptr;
    start_joining(self);
  }
}

void on_scheduler_down(node_self* self, caf::down_msg& msg) {
  leave_scheduler(self, msg.source, self->system().render(msg.reason));
}

// A scheduler handed this node greets it first; from then on it may send
// orders (unless this node serves only the one it joined).
detail::node_info greet(node_self* self) {
  auto& st = self->state;
  auto scheduler = caf::actor_cast<scheduler_for_nodes>(self->current_sender());
  if (scheduler && st.opts.serve_any)
    watch(self, scheduler);
  return detail::node_info{st.opts.name, st.opts.slots};
}

void cancel_order(node_self* self, task_id id, uint32_t epoch) {
  auto& st = self->state;
  auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
  // (An anonymous cancel has no address, and hashing none crashes.)
  if (!sender || st.schedulers.count(sender) == 0)
    return;
  st.pool->cancel(sender, id, epoch);
  // An adopted task runs under the address of the scheduler that was lost.
  if (st.joined && st.joined.address() == sender)
    if (auto it = st.adopted_from.find(lease{id, epoch}); it != st.adopted_from.end())
      st.pool->cancel(it->second, id, epoch);
}

// Only from its own process, before the first task: the task workers read
// the name unlocked.
void rename(node_self* self, std::string& name) {
  auto& st = self->state;
  auto& sender = self->current_sender();
  if (!sender || sender->node() != self->node())
    return log_refusal(self, "a rename from outside its process");
  if (st.pool->workers() == 0 && st.schedulers.empty()) {
    st.opts.name = name;
    st.pool->rename(std::move(name));
  }
}

void start(node_self* self, std::shared_ptr<const registry> reg, node_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.reg = std::move(reg);
  st.pool = std::make_shared<detail::task_pool>(self, st.opts.name, st.reg,
                                                thread_bound(st.opts), st.opts.worker_restarts,
                                                st.opts.worker_restart_period);
  self->attach_functor([pool = st.pool] { pool->stop(); });
  // Its task workers are monitored, as gascheduler traps its workers' exits
  // (a link would not do: CAF 0.17 passes exit_reason::kill on to linked
  // actors unconditionally, where Erlang turns it into `killed`).
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& pool = *self->state.pool;
    if (!pool.is_worker(msg.source))
      return on_scheduler_down(self, msg);
    if (auto err = pool.worker_exited(msg.source, self->system().render(msg.reason))) {
      detail::log(log_level::error, "{}", describe(err));
      self->quit(std::move(err));
    }
  });
  // Only its own process may stop it.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.source && msg.source.node() == self->node())
      return self->quit(msg.reason);
    log_refusal(self, "an exit message from outside its process");
  });
  auto candidates = join_candidates(st.opts);
  if (!candidates.empty()) {
    st.search.emplace(std::move(candidates));
    st.rejoin.emplace(st.opts.join_retry_min, st.opts.join_retry_max);
    try_join(self);
  }
}

// One behaviour in both states of the diagram: joining and joined differ in
// what the node does by itself (rejoin_atom, its scheduler's down message),
// not in what it answers.
detail::node_impl::behavior_type node_behavior(node_self* self,
                                               std::shared_ptr<const registry> reg,
                                               node_options opts) {
  start(self, std::move(reg), std::move(opts));
  return {
    [self](hello_atom) { return greet(self); },
    [self](run_atom, detail::run_batch& batch) { take_orders(self, batch); },
    [self](cancel_atom, task_id id, uint32_t epoch) { cancel_order(self, id, epoch); },
    [self](standby_atom, const std::string& active) {
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      auto& st = self->state;
      auto named = parse_address(active);
      if (sender && named && st.search && st.joined && st.joined.address() == sender)
        st.search->follow(*named);  // rejoining goes there first
      if (sender)
        leave_scheduler(self, sender, "it is a standby now; the active scheduler is at "
                                        + (active.empty() ? std::string{"an unknown address"}
                                                          : active));
    },
    [self](ack_atom, uint64_t upto) {
      // Only from a scheduler it serves: no one else may make it forget.
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      auto& st = self->state;
      if (!sender || (st.schedulers.count(sender) == 0 && sender != st.joining))
        return;
      st.pool->outcomes().acked(sender, upto);
    },
    [self](rename_atom, std::string& name) { rename(self, name); },
    [self](flush_atom) { self->state.pool->flush(); },
    [self](orphans_atom, uint64_t episode) {
      if (self->current_sender() == self->ctrl())
        drop_orphans(self, episode);
    },
    [self](rejoin_atom) {
      // Its own timer only: a peer must not drive its connects.
      if (self->current_sender() == self->ctrl() && !self->state.joined)
        try_join(self);
    },
  };
}

std::string default_name(caf::actor_id id) {
  return detail::host_name() + ":" + std::to_string(getpid()) + "/" + std::to_string(id);
}

} // namespace

caf::actor spawn_node(caf::actor_system& sys, const registry& reg, node_options opts) {
  auto shared = std::make_shared<const registry>(reg);
  if (!opts.name.empty())
    return caf::actor_cast<caf::actor>(
      sys.spawn(node_behavior, std::move(shared), std::move(opts)));
  // The default name needs the actor's id: name it first thing. (The
  // arguments go through spawn: CAF 0.17 binds a null reference for a
  // function actor spawned without any, which UBSan reports.)
  return caf::actor_cast<caf::actor>(sys.spawn(
    [](node_self* self, std::shared_ptr<const registry> r, node_options o) {
      o.name = default_name(self->id());
      return node_behavior(self, std::move(r), std::move(o));
    },
    std::move(shared), std::move(opts)));
}

caf::actor spawn_node(caf::actor_system& sys, const registry& reg, std::string name) {
  node_options opts;
  opts.name = std::move(name);
  return spawn_node(sys, reg, std::move(opts));
}

} // namespace gasched
