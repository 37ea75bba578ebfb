// The node actor: one per process. It owns the task registry and the pool of
// threads that run tasks; it never runs a task itself, so it always answers.
//
// In join mode it keeps itself joined to a scheduler published at an address,
// as an Erlang node re-adds itself on nodeup:
//
//            start                        ok
//   ( joining ) ───connect + join──────────────> ( joined )
//        ^    \__ failed: retry after a pause       |
//        |        (backoff with jitter, bounded)     | scheduler down (its process died,
//        |                                           | or the link was cut or went silent):
//        └───────────────────────────────────────────┘ cancel its tasks, join it again
//
// A scheduler that comes back at the same address after a cut is the same
// actor: the node joins it again, and whatever it still ran for the lost
// connection is cancelled here and fenced by the lease at the scheduler.
// Any scheduler may also be handed this node (hello_atom); the node watches
// every scheduler that sends it work and cancels that work when it goes down.

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/node.hpp"
#include "backoff.hpp"
#include "logging.hpp"
#include "task_pool.hpp"
#include "wire.hpp"

namespace gasched {

namespace {

struct node_state {
  node_options opts;
  std::shared_ptr<const registry> reg;
  std::shared_ptr<detail::task_pool> pool;
  std::unordered_set<caf::actor_addr> schedulers;  // monitored
  caf::actor joined;                              // join mode: our scheduler
  std::unique_ptr<detail::backoff> pause;         // join mode: between attempts
  // The current episode of joining: since when, attempts so far, and whether
  // its failure was logged (once per episode, not per retry).
  std::chrono::steady_clock::time_point joining_since;
  uint32_t attempts = 0;
  bool warned = false;
  static inline const char* name = "gasched.node";
};

using node_actor = caf::stateful_actor<node_state>;

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

void watch(node_actor* self, const caf::actor& scheduler) {
  if (self->state.schedulers.insert(scheduler.address()).second)
    self->monitor(scheduler);
}

std::string join_address(const node_state& st) {
  return st.opts.join_host + ":" + std::to_string(st.opts.join_port);
}

// Logs the first failure of an episode at warning level, the rest at debug:
// a node waiting for its scheduler must say so, but not ten times a second.
void join_failed(node_actor* self, const std::string& why) {
  auto& st = self->state;
  auto level = st.warned ? log_level::debug : log_level::warning;
  st.warned = true;
  detail::log(level, "node {}: cannot join the scheduler at {}: {}; retrying", st.opts.name,
              join_address(st), why);
  self->delayed_send(self, st.pause->next(), rejoin_atom::value);
}

void joined(node_actor* self, caf::actor scheduler) {
  auto& st = self->state;
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.joining_since);
  detail::log(log_level::info, "node {} joined the scheduler at {} ({} attempts, {:.2f} s)",
              st.opts.name, join_address(st), st.attempts, took.count());
  st.joined = std::move(scheduler);
  st.pause->reset();
  st.attempts = 0;
  st.warned = false;
  watch(self, st.joined);
}

// Timeouts are short: a connect or join stuck on a cut link must not delay
// the next attempt once the link heals.
constexpr auto join_timeout = std::chrono::seconds(2);

void try_join(node_actor* self) {
  auto& st = self->state;
  ++st.attempts;
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, join_timeout, caf::connect_atom::value, st.opts.join_host,
                st.opts.join_port)
    .then(
      [self](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (!ptr) {
          join_failed(self, "nothing is published there");
          return;
        }
        // The handle may be CAF's cached one of a connection that just
        // died: the join request then fails, and the next attempt connects anew.
        auto scheduler = caf::actor_cast<caf::actor>(ptr);
        auto& st = self->state;
        self->request(scheduler, join_timeout, join_atom::value,
                      detail::node_info{st.opts.name, st.opts.slots})
          .then([self, scheduler](caf::ok_atom) { joined(self, scheduler); },
                [self](caf::error& err) {
                  join_failed(self, "join refused: " + describe(err));
                });
      },
      [self](caf::error& err) { join_failed(self, self->system().render(err)); });
}

void start_joining(node_actor* self) {
  auto& st = self->state;
  st.joining_since = std::chrono::steady_clock::now();
  st.attempts = 0;
  st.warned = false;
  // A short pause first: CAF's middleman may still hand out the handle of
  // the connection that just died.
  self->delayed_send(self, st.pause->next(), rejoin_atom::value);
}

caf::behavior node_behavior(node_actor* self, std::shared_ptr<const registry> reg,
                            node_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.reg = std::move(reg);
  st.pool = std::make_shared<detail::task_pool>(st.opts.name, st.reg, st.opts.slots,
                                                self->address());
  self->attach_functor([pool = st.pool] { pool->stop(); });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.schedulers.erase(msg.source) == 0)
      return;
    st.pool->cancel_all(msg.source);
    if (st.joined && st.joined.address() == msg.source) {
      detail::log(log_level::warning, "node {}: lost the scheduler at {} ({}); rejoining",
                  st.opts.name, join_address(st), self->system().render(msg.reason));
      st.joined = nullptr;
      start_joining(self);
    }
  });
  if (!st.opts.join_host.empty()) {
    st.pause = std::make_unique<detail::backoff>(st.opts.join_retry_min, st.opts.join_retry_max);
    st.joining_since = std::chrono::steady_clock::now();
    try_join(self);
  }
  return {
    [self](hello_atom) {
      auto& st = self->state;
      return detail::node_info{st.opts.name, st.opts.slots};
    },
    [self](run_atom, detail::run_batch& batch) {
      auto& st = self->state;
      auto scheduler = caf::actor_cast<caf::actor>(self->current_sender());
      if (!scheduler)
        return;
      watch(self, scheduler);
      auto policy = std::make_shared<const detail::retry_policy>(batch.policy);
      std::vector<detail::pool_job> jobs;
      jobs.reserve(batch.orders.size());
      for (auto& order : batch.orders) {
        auto fn = st.reg->find(order.function);
        caf::error refused;
        if (fn == nullptr)
          refused = make_error(errc::unknown_function,
                               "node " + st.opts.name + " has no function "
                                 + order.function);
        else if (!fn->accepts(order.args))
          refused = make_error(errc::bad_arguments,
                               order.function + " expects " + fn->signature
                                 + " but got "
                                 + type_list_of(self->system(), order.args));
        if (refused) {
          // Both are final: another attempt would fail the same way.
          detail::log(log_level::warning, "task {} on {}: {}", order.id, st.opts.name,
                      describe(refused));
          st.pool->post(scheduler, detail::run_outcome{order.id, order.epoch, {},
                                                       std::move(refused)});
          continue;
        }
        jobs.push_back(detail::pool_job{scheduler, order.id, order.epoch,
                                        std::move(order.function), fn,
                                        std::move(order.args), policy, false});
      }
      st.pool->submit(scheduler, batch.capacity, std::move(jobs));
    },
    [self](cancel_atom, task_id id, uint32_t epoch) {
      auto& st = self->state;
      st.pool->cancel(caf::actor_cast<caf::actor_addr>(self->current_sender()), id,
                      epoch);
    },
    [self](rename_atom, std::string& name) {
      // Only before the first task: the pool's threads read the name unlocked.
      auto& st = self->state;
      if (st.pool->threads() == 0 && st.schedulers.empty()) {
        st.opts.name = name;
        st.pool->rename(std::move(name));
      }
    },
    [self](flush_atom) {
      self->state.pool->flush();
    },
    [self](rejoin_atom) {
      if (!self->state.joined)
        try_join(self);
    },
  };
}

std::string default_name(caf::actor_id id) {
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  return std::string{host} + ":" + std::to_string(getpid()) + "/" + std::to_string(id);
}

} // namespace

caf::actor spawn_node(caf::actor_system& sys, const registry& reg, node_options opts) {
  auto shared = std::make_shared<const registry>(reg);
  if (!opts.name.empty())
    return sys.spawn(node_behavior, std::move(shared), std::move(opts));
  // The default name needs the actor's id: name it first thing. (The
  // arguments go through spawn: CAF 0.17 binds a null reference for a
  // function actor spawned without any, which UBSan reports.)
  return sys.spawn(
    [](node_actor* self, std::shared_ptr<const registry> r, node_options o) {
      o.name = default_name(self->id());
      return node_behavior(self, std::move(r), std::move(o));
    },
    std::move(shared), std::move(opts));
}

caf::actor spawn_node(caf::actor_system& sys, const registry& reg, std::string name) {
  node_options opts;
  opts.name = std::move(name);
  return spawn_node(sys, reg, std::move(opts));
}

} // namespace gasched
