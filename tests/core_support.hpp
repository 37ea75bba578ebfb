// What the core's unit tests share: a check of a message's values and types,
// and a scheduler_core's dispatches and unfinished tasks as plain lists.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "core/compact_args.hpp"
#include "core/node_table.hpp"
#include "core/pending_queue.hpp"
#include "core/scheduler_core.hpp"
#include "gasched/errc.hpp"

namespace gasched::core_test {

using namespace gasched::detail;

// Whether `msg` holds exactly the values `xs`, with exactly their types.
template <class... Ts>
bool holds(const caf::message& msg, const Ts&... xs) {
  if (msg.size() != sizeof...(Ts) || !msg.match_elements<Ts...>())
    return false;
  return msg.get_as_tuple<Ts...>() == std::tie(xs...);
}

// A dispatch_order, copied (its args refer into the core).
struct order {
  node_index node;
  task_id id;
  uint32_t epoch;
  uint32_t fn;
  caf::message args;
};

inline std::vector<order> dispatch(scheduler_core& core) {
  std::vector<order> out;
  core.dispatch([&](const dispatch_order& o) {
    out.push_back(order{o.node, o.id, o.epoch, o.fn, o.args});
  });
  return out;
}

inline std::vector<task_id> ids_of(const std::vector<order>& orders) {
  std::vector<task_id> ids;
  for (auto& o : orders)
    ids.push_back(o.id);
  return ids;
}

// Enqueues `n` tasks "f"(i) and returns their ids.
inline std::vector<task_id> enqueue_n(scheduler_core& core, int n, int32_t priority = 0) {
  std::vector<task_id> ids;
  for (int i = 0; i < n; ++i) {
    auto id = core.enqueue("f", caf::make_message(int32_t(i)), priority);
    REQUIRE(id);
    ids.push_back(*id);
  }
  return ids;
}

// The pending tasks in dispatch order, then the running ones by id.
inline std::vector<task_id> unfinished_ids(const scheduler_core& core) {
  std::vector<task_id> ids;
  core.for_each_unfinished([&](task_id id, const std::string&, const caf::message&,
                               int32_t) { ids.push_back(id); });
  return ids;
}

inline std::vector<task_id> pending_ids(const scheduler_core& core) {
  auto ids = unfinished_ids(core);
  ids.resize(core.pending());
  return ids;
}

using ids = std::vector<task_id>;

// A clock the tests set (scheduler_core::set_clock), in microseconds.
inline uint64_t fake_now_us = 0;

inline uint64_t fake_clock() {
  return fake_now_us;
}

// A dispatch as the tests follow it: which node, which lease.
struct sent {
  node_index node;
  task_id id;
  uint32_t epoch;
};

inline std::vector<sent> dispatch_all(scheduler_core& core) {
  std::vector<sent> out;
  core.dispatch([&](const dispatch_order& d) { out.push_back({d.node, d.id, d.epoch}); });
  return out;
}

} // namespace gasched::core_test
