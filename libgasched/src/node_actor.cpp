// The node actor: one per process. It owns the task registry and the pool of
// threads that run tasks; it never runs a task itself, so it always answers.
//
// In join mode it keeps itself joined to a scheduler published at an address:
//
//            start                     ok
//   ( joining ) ───connect + join──────────> ( joined )
//        ^    \__ failed: retry after a pause       |
//        |        doubling up to join_retry_max     | scheduler down:
//        └──────────────────────────────────────────┘ cancel its tasks, rejoin
//
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
  caf::actor_addr lost;    // the scheduler last lost: CAF may hand out its cached handle
  caf::timespan pause{0};  // before the next join attempt
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

void retry_join_later(node_actor* self) {
  auto& st = self->state;
  self->delayed_send(self, st.pause, rejoin_atom::value);
  st.pause = std::min(st.pause * 2, st.opts.join_retry_max);
}

void try_join(node_actor* self) {
  auto& st = self->state;
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, std::chrono::seconds(10), caf::connect_atom::value,
                st.opts.join_host, st.opts.join_port)
    .then(
      [self](const caf::node_id&, caf::strong_actor_ptr& ptr,
             const std::set<std::string>&) {
        auto& st = self->state;
        if (!ptr || ptr->address() == st.lost) {  // nothing there, or the dead one
          retry_join_later(self);
          return;
        }
        auto scheduler = caf::actor_cast<caf::actor>(ptr);
        self->request(scheduler, std::chrono::seconds(10), join_atom::value,
                      detail::node_info{st.opts.name, st.opts.slots})
          .then(
            [self, scheduler](caf::ok_atom) {
              auto& st = self->state;
              st.joined = scheduler;
              st.pause = st.opts.join_retry_min;
              watch(self, scheduler);
              detail::log(log_level::info, "node {} joined the scheduler at {}:{}",
                          st.opts.name, st.opts.join_host, st.opts.join_port);
            },
            [self](caf::error& err) {
              detail::log(log_level::warning, "node {}: join refused: {}",
                          self->state.opts.name, describe(err));
              retry_join_later(self);
            });
      },
      [self](caf::error& err) {
        auto& st = self->state;
        detail::log(log_level::debug, "node {}: no scheduler at {}:{} yet: {}",
                    st.opts.name, st.opts.join_host, st.opts.join_port,
                    self->system().render(err));
        retry_join_later(self);
      });
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
      detail::log(log_level::warning, "node {}: lost the scheduler at {}:{} ({}); rejoining",
                  st.opts.name, st.opts.join_host, st.opts.join_port,
                  self->system().render(msg.reason));
      st.lost = msg.source;
      st.joined = nullptr;
      retry_join_later(self);
    }
  });
  if (!st.opts.join_host.empty()) {
    st.pause = st.opts.join_retry_min;
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
