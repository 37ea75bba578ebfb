// Unit tests of the actor-free core: compact_args, pending_queue, node_table
// and scheduler_core. Each test checks what a user of the scheduler would see:
// which task runs next, where, and what a node's death or a late result does.
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

using namespace gasched;
using namespace gasched::detail;

namespace {

// -- helpers -------------------------------------------------------------------

// Whether `msg` holds exactly the values `xs`, with exactly their types.
template <class... Ts>
bool holds(const caf::message& msg, const Ts&... xs) {
  if (msg.size() != sizeof...(Ts) || !msg.match_elements<Ts...>())
    return false;
  return msg.get_as_tuple<Ts...>() == std::tie(xs...);
}

// A message stored in compact_args comes back with the same values and types.
template <class... Ts>
void check_round_trip(bool expect_inline, const Ts&... xs) {
  compact_args args{caf::make_message(xs...)};
  CHECK(args.is_inline() == expect_inline);
  CHECK(holds(args.to_message(), xs...));
  // to_message() does not consume: a second call gives the same values.
  CHECK(holds(args.to_message(), xs...));
}

std::vector<task_id> pop_all(pending_queue& q) {
  std::vector<task_id> ids;
  while (!q.empty())
    ids.push_back(q.pop().id);
  return ids;
}

std::vector<task_id> visit_all(const pending_queue& q) {
  std::vector<task_id> ids;
  q.for_each([&](task_id id, int32_t, uint32_t, const caf::message&) { ids.push_back(id); });
  return ids;
}

queued_task requeued(task_id id, int32_t priority, uint32_t node_failures = 1) {
  return queued_task{id, priority, 0, node_failures, caf::make_message(int32_t(id))};
}

// A dispatch_order, copied (its args refer into the core).
struct order {
  node_index node;
  task_id id;
  uint32_t epoch;
  uint32_t fn;
  caf::message args;
};

std::vector<order> dispatch(scheduler_core& core) {
  std::vector<order> out;
  core.dispatch([&](const dispatch_order& o) {
    out.push_back(order{o.node, o.id, o.epoch, o.fn, o.args});
  });
  return out;
}

std::vector<task_id> ids_of(const std::vector<order>& orders) {
  std::vector<task_id> ids;
  for (auto& o : orders)
    ids.push_back(o.id);
  return ids;
}

// Enqueues `n` tasks "f"(i) and returns their ids.
std::vector<task_id> enqueue_n(scheduler_core& core, int n, int32_t priority = 0) {
  std::vector<task_id> ids;
  for (int i = 0; i < n; ++i) {
    auto id = core.enqueue("f", caf::make_message(int32_t(i)), priority);
    REQUIRE(id);
    ids.push_back(*id);
  }
  return ids;
}

// The pending tasks in dispatch order, then the running ones by id.
std::vector<task_id> unfinished_ids(const scheduler_core& core) {
  std::vector<task_id> ids;
  core.for_each_unfinished([&](task_id id, const std::string&, const caf::message&,
                               int32_t) { ids.push_back(id); });
  return ids;
}

std::vector<task_id> pending_ids(const scheduler_core& core) {
  auto ids = unfinished_ids(core);
  ids.resize(core.pending());
  return ids;
}

using ids = std::vector<task_id>;

} // namespace

// -- compact_args ----------------------------------------------------------------

TEST_CASE("compact_args stores one or two scalars inline", "[core][compact_args]") {
  SECTION("one int32") {
    check_round_trip(true, int32_t{42});
    check_round_trip(true, int32_t{-7});
  }
  SECTION("one scalar of each kind") {
    check_round_trip(true, uint8_t{255});
    check_round_trip(true, int8_t{-1});
    check_round_trip(true, uint16_t{65535});
    check_round_trip(true, int16_t{-300});
    check_round_trip(true, 1.5f);
  }
  SECTION("two scalars of different types") {
    check_round_trip(true, int64_t{1} << 40, int32_t{-3});
    check_round_trip(true, 2.5, true);
    check_round_trip(true, false, uint32_t{4000000000u});
    check_round_trip(true, uint64_t{UINT64_MAX}, int32_t{1});
  }
  SECTION("the empty message") {
    compact_args args{caf::message{}};
    CHECK(args.is_inline());
    CHECK(args.to_message().empty());
    compact_args none;
    CHECK(none.is_inline());
    CHECK(none.to_message().empty());
  }
  SECTION("a type that differs only in signedness keeps its type") {
    // uint32 must not come back as int32.
    compact_args args{caf::make_message(uint32_t{7})};
    auto msg = args.to_message();
    CHECK(msg.match_elements<uint32_t>());
    CHECK_FALSE(msg.match_elements<int32_t>());
  }
}

TEST_CASE("compact_args keeps other messages by reference", "[core][compact_args]") {
  SECTION("a string") {
    check_round_trip(false, std::string{"hello"});
  }
  SECTION("three elements") {
    check_round_trip(false, int32_t{1}, int32_t{2}, int32_t{3});
  }
  SECTION("two int64: 16 bytes do not fit in 14") {
    check_round_trip(false, int64_t{-1}, int64_t{1} << 62);
    check_round_trip(false, 1.0, 2.0);
  }
  SECTION("a scalar next to a string") {
    check_round_trip(false, int32_t{1}, std::string{"x"});
  }
  SECTION("pairs with a small integer or a float") {
    check_round_trip(false, false, uint8_t{255});
    check_round_trip(false, int8_t{-1}, uint16_t{65535});
    check_round_trip(false, 1.5f, int32_t{2});
  }
  SECTION("the message's data is shared, not copied") {
    auto msg = caf::make_message(std::string{"shared"});
    auto data = msg.cvals().get();
    compact_args args{std::move(msg)};
    REQUIRE_FALSE(args.is_inline());
    CHECK(args.to_message().cvals().get() == data);
  }
}

TEST_CASE("compact_args: moves leave the source empty", "[core][compact_args]") {
  SECTION("inline, move construction") {
    compact_args a{caf::make_message(int32_t{5}, 1.5)};
    compact_args b{std::move(a)};
    CHECK(holds(b.to_message(), int32_t{5}, 1.5));
    CHECK(a.is_inline());  // NOLINT: checking the moved-from state on purpose
    CHECK(a.to_message().empty());
  }
  SECTION("heap, move construction and assignment") {
    auto keep = caf::make_message(std::string{"x"});
    auto data = keep.cvals().get();
    compact_args a{caf::message{keep}};
    CHECK(data->get_reference_count() == 2);
    compact_args b{std::move(a)};
    CHECK(a.to_message().empty());
    CHECK(data->get_reference_count() == 2);  // moved, not copied
    compact_args c;
    c = std::move(b);
    CHECK(b.to_message().empty());
    CHECK(holds(c.to_message(), std::string{"x"}));
    // Assigning over a heap value releases it.
    c = compact_args{caf::make_message(int32_t{1})};
    CHECK(data->get_reference_count() == 1);
    CHECK(holds(c.to_message(), int32_t{1}));
  }
  SECTION("destruction releases the shared data") {
    auto keep = caf::make_message(std::string{"x"});
    auto data = keep.cvals().get();
    {
      compact_args a{caf::message{keep}};
      CHECK(data->get_reference_count() == 2);
    }
    CHECK(data->get_reference_count() == 1);
  }
  SECTION("self-assignment keeps the value") {
    compact_args a{caf::make_message(std::string{"self"})};
    auto& alias = a;
    a = std::move(alias);
    CHECK(holds(a.to_message(), std::string{"self"}));
  }
}

TEST_CASE("compact_args is 16 bytes", "[core][compact_args]") {
  STATIC_REQUIRE(sizeof(compact_args) == 16);
}

// -- pending_queue ---------------------------------------------------------------

TEST_CASE("pending_queue: FIFO within a priority, higher priority first",
          "[core][pending_queue]") {
  pending_queue q;
  CHECK(q.empty());
  q.push_back(1, 0, 0, caf::make_message(int32_t{1}));
  q.push_back(2, 5, 0, caf::message{});
  q.push_back(3, 0, 0, caf::message{});
  q.push_back(4, -1, 0, caf::message{});
  q.push_back(5, 5, 0, caf::message{});
  q.push_back(6, 0, 0, caf::message{});
  CHECK(q.size() == 6);
  CHECK(visit_all(q) == ids{2, 5, 1, 3, 6, 4});
  auto first = q.pop();
  CHECK(first.id == 2);
  CHECK(first.priority == 5);
  CHECK(pop_all(q) == ids{5, 1, 3, 6, 4});
  CHECK(q.empty());
}

TEST_CASE("pending_queue: pop returns what was pushed", "[core][pending_queue]") {
  pending_queue q;
  q.push_back(1, 3, 7, caf::make_message(std::string{"a"}, int32_t{2}));
  q.push_front(queued_task{9, 3, 4, 2, caf::make_message(int64_t{5})});
  auto a = q.pop();
  CHECK(a.id == 9);
  CHECK(a.priority == 3);
  CHECK(a.fn == 4);
  CHECK(a.node_failures == 2);
  CHECK(holds(a.args, int64_t{5}));
  auto b = q.pop();
  CHECK(b.id == 1);
  CHECK(b.fn == 7);
  CHECK(b.node_failures == 0);
  CHECK(holds(b.args, std::string{"a"}, int32_t{2}));
}

TEST_CASE("pending_queue: push_front goes ahead of its priority",
          "[core][pending_queue]") {
  pending_queue q;
  q.push_back(10, 0, 0, caf::message{});
  q.push_back(11, 1, 0, caf::message{});
  q.push_back(12, 0, 0, caf::message{});
  SECTION("one requeued task") {
    q.push_front(requeued(3, 0));
    // Ahead of priority 0, still behind priority 1.
    CHECK(visit_all(q) == ids{11, 3, 10, 12});
    CHECK(pop_all(q) == ids{11, 3, 10, 12});
  }
  SECTION("several push_fronts: last pushed first") {
    q.push_front(requeued(3, 0));
    q.push_front(requeued(2, 0));
    q.push_front(requeued(1, 0));
    q.push_front(requeued(4, 1));
    CHECK(visit_all(q) == ids{4, 11, 1, 2, 3, 10, 12});
    CHECK(pop_all(q) == ids{4, 11, 1, 2, 3, 10, 12});
  }
  SECTION("a requeued task into a priority nobody else has") {
    q.push_front(requeued(5, 7));
    CHECK(pop_all(q) == ids{5, 11, 10, 12});
  }
  SECTION("a task requeued twice") {
    q.push_front(requeued(3, 0));
    REQUIRE(q.pop().id == 11);
    REQUIRE(q.pop().id == 3);
    q.push_front(requeued(3, 0, 2));
    CHECK(q.contains(3));
    auto t = q.pop();
    CHECK(t.id == 3);
    CHECK(t.node_failures == 2);
    CHECK_FALSE(q.contains(3));
    CHECK(pop_all(q) == ids{10, 12});
  }
}

TEST_CASE("pending_queue: remove takes a task out wherever it is",
          "[core][pending_queue]") {
  pending_queue q;
  for (task_id id = 1; id <= 4; ++id)
    q.push_back(id, 0, 0, caf::make_message(int32_t(id)));
  q.push_back(5, 2, 0, caf::message{});
  q.push_front(requeued(100, 0));  // requeued ids may be anything
  REQUIRE(q.size() == 6);

  SECTION("a new task") {
    auto t = q.remove(3);
    REQUIRE(t);
    CHECK(t->id == 3);
    CHECK(t->priority == 0);
    CHECK(holds(t->args, int32_t{3}));
    CHECK_FALSE(q.contains(3));
    CHECK(q.size() == 5);
    CHECK(visit_all(q) == ids{5, 100, 1, 2, 4});
    CHECK(pop_all(q) == ids{5, 100, 1, 2, 4});
  }
  SECTION("a requeued task") {
    auto t = q.remove(100);
    REQUIRE(t);
    CHECK(t->id == 100);
    CHECK(t->node_failures == 1);
    CHECK_FALSE(q.contains(100));
    CHECK(pop_all(q) == ids{5, 1, 2, 3, 4});
  }
  SECTION("a task in another priority") {
    auto t = q.remove(5);
    REQUIRE(t);
    CHECK(t->priority == 2);
    CHECK(pop_all(q) == ids{100, 1, 2, 3, 4});
  }
  SECTION("an unknown id") {
    CHECK_FALSE(q.remove(42));
    CHECK(q.size() == 6);
  }
  SECTION("twice: the second finds nothing") {
    CHECK(q.remove(2));
    CHECK_FALSE(q.remove(2));
    CHECK(q.size() == 5);
  }
  SECTION("the front task: pop skips nothing it should not") {
    CHECK(q.remove(100));
    CHECK(q.remove(1));
    CHECK(q.pop().id == 5);
    CHECK(q.pop().id == 2);
    CHECK(q.size() == 2);
  }
  SECTION("popping skips removed tasks") {
    CHECK(q.remove(1));
    CHECK(q.remove(2));
    CHECK(q.remove(4));
    CHECK(q.size() == 3);
    CHECK(visit_all(q) == ids{5, 100, 3});
    CHECK(pop_all(q) == ids{5, 100, 3});
    CHECK(q.empty());
  }
  SECTION("a level emptied by remove disappears: a lower priority pops next") {
    CHECK(q.remove(5));
    CHECK(q.pop().id == 100);
    q.push_back(6, -3, 0, caf::message{});
    for (task_id id : {1, 2, 3, 4})
      CHECK(q.remove(id));
    CHECK(q.size() == 1);
    CHECK(q.pop().id == 6);
    CHECK(q.empty());
  }
  SECTION("a removed priority can be used again") {
    CHECK(q.remove(5));
    q.push_back(7, 2, 0, caf::message{});
    CHECK(pop_all(q) == ids{7, 100, 1, 2, 3, 4});
  }
}

TEST_CASE("pending_queue: contains", "[core][pending_queue]") {
  pending_queue q;
  q.push_back(1, 0, 0, caf::message{});
  q.push_back(2, 1, 0, caf::message{});
  q.push_front(requeued(7, 0));
  CHECK(q.contains(1));
  CHECK(q.contains(2));
  CHECK(q.contains(7));
  CHECK_FALSE(q.contains(3));
  CHECK_FALSE(q.contains(0));
  q.pop();  // 2
  CHECK_FALSE(q.contains(2));
  q.remove(1);
  CHECK_FALSE(q.contains(1));
  CHECK(q.contains(7));
}

TEST_CASE("pending_queue: for_each visits in pop order", "[core][pending_queue]") {
  pending_queue q;
  q.push_back(1, 0, 10, caf::make_message(int32_t{1}));
  q.push_back(2, 3, 11, caf::make_message(std::string{"two"}));
  q.push_back(3, 0, 12, caf::message{});
  q.push_back(4, -2, 13, caf::message{});
  q.push_front(requeued(9, -2));
  q.push_front(requeued(8, 3));
  q.remove(3);
  std::vector<std::tuple<task_id, int32_t, uint32_t>> seen;
  q.for_each([&](task_id id, int32_t prio, uint32_t fn, const caf::message& args) {
    seen.emplace_back(id, prio, fn);
    if (id == 2)
      CHECK(holds(args, std::string{"two"}));
  });
  using t = std::tuple<task_id, int32_t, uint32_t>;
  CHECK(seen == std::vector<t>{t{8, 3, 0}, t{2, 3, 11}, t{1, 0, 10}, t{9, -2, 0},
                               t{4, -2, 13}});
  auto order = visit_all(q);
  CHECK(pop_all(q) == order);
}

// -- node_table ------------------------------------------------------------------

TEST_CASE("node_table: least_loaded picks the fewest running, ties by index",
          "[core][node_table]") {
  node_table t{10};
  CHECK_FALSE(t.least_loaded());  // no nodes
  auto a = t.add(0);
  auto b = t.add(0);
  auto c = t.add(0);
  CHECK(t.size() == 3);
  CHECK(t.least_loaded() == a);
  t.started(a);
  CHECK(t.least_loaded() == b);
  t.started(b);
  CHECK(t.least_loaded() == c);
  t.started(c);
  CHECK(t.least_loaded() == a);
  t.started(a);
  t.stopped(b);  // b: 0 running
  CHECK(t.least_loaded() == b);
  CHECK(t.running(a) == 2);
  CHECK(t.running(b) == 0);
  CHECK(t.running(c) == 1);
}

TEST_CASE("node_table: with prefetch a node holds capacity x (1 + prefetch), "
          "placement relative to that", "[core][node_table]") {
  node_table t{10, 2};
  auto a = t.add(0);  // capacity 10, holds 30
  auto b = t.add(5);  // capacity 5, holds 15
  CHECK(t.capacity(a) == 10);
  CHECK(t.limit(a) == 30);
  CHECK(t.capacity(b) == 5);
  CHECK(t.limit(b) == 15);
  for (int i = 0; i < 45; ++i) {
    auto n = t.least_loaded();
    REQUIRE(n);
    t.started(*n);
  }
  CHECK(t.running(a) == 30);
  CHECK(t.running(b) == 15);
  CHECK_FALSE(t.least_loaded());
  t.set_max_workers(0);  // pauses: nothing held beyond what already is
  t.stopped(a);
  CHECK_FALSE(t.least_loaded());
}

TEST_CASE("node_table: a node at capacity is never offered", "[core][node_table]") {
  node_table t{2};
  auto a = t.add(0);
  t.started(a);
  CHECK(t.least_loaded() == a);
  t.started(a);
  CHECK_FALSE(t.least_loaded());
  auto b = t.add(1);
  CHECK(t.least_loaded() == b);
  t.started(b);
  CHECK_FALSE(t.least_loaded());
  t.stopped(a);
  CHECK(t.least_loaded() == a);
}

TEST_CASE("node_table: capacity is min(slots, max_workers)", "[core][node_table]") {
  node_table t{10};
  auto any = t.add(0);
  auto two = t.add(2);
  auto many = t.add(50);
  CHECK(t.capacity(any) == 10);  // slots 0: max_workers
  CHECK(t.capacity(two) == 2);
  CHECK(t.capacity(many) == 10);
  CHECK(t.max_workers() == 10);
}

TEST_CASE("node_table: placement is relative to capacity", "[core][node_table]") {
  node_table t{10};
  auto a = t.add(2);
  auto b = t.add(10);
  t.started(a);  // A: 1 of 2 = 50%
  for (int i = 0; i < 4; ++i)
    t.started(b);  // B: 4 of 10 = 40%
  CHECK(t.least_loaded() == b);
  t.started(b);  // B: 50%, a tie: the lower index
  CHECK(t.least_loaded() == a);
  t.started(a);  // A full
  CHECK(t.least_loaded() == b);
}

TEST_CASE("node_table: set_max_workers never touches running counts",
          "[core][node_table]") {
  node_table t{10};
  auto a = t.add(0);
  auto b = t.add(4);
  for (int i = 0; i < 5; ++i)
    t.started(a);
  t.started(b);
  SECTION("lower: nodes over it stay over it and are not offered") {
    t.set_max_workers(3);
    CHECK(t.max_workers() == 3);
    CHECK(t.running(a) == 5);
    CHECK(t.capacity(a) == 3);
    CHECK(t.capacity(b) == 3);
    CHECK(t.least_loaded() == b);
    t.started(b);
    t.started(b);
    CHECK_FALSE(t.least_loaded());
    t.stopped(a);
    t.stopped(a);
    CHECK_FALSE(t.least_loaded());  // a runs 3 of 3
    t.stopped(a);
    CHECK(t.least_loaded() == a);
  }
  SECTION("raise: nodes are offered again") {
    t.set_max_workers(1);
    CHECK_FALSE(t.least_loaded());
    t.set_max_workers(10);
    CHECK(t.running(a) == 5);
    CHECK(t.least_loaded() == b);  // 1/4 < 5/10
  }
  SECTION("0: no node is offered") {
    t.set_max_workers(0);
    CHECK_FALSE(t.least_loaded());
    CHECK(t.capacity(a) == 0);
  }
}

TEST_CASE("node_table: max_workers 0 offers no node", "[core][node_table]") {
  node_table t{0};
  t.add(0);
  t.add(5);
  CHECK(t.size() == 2);
  CHECK_FALSE(t.least_loaded());
}

TEST_CASE("node_table: remove, then add reuses the index", "[core][node_table]") {
  node_table t{3};
  auto a = t.add(0);
  auto b = t.add(0);
  t.started(a);
  t.started(a);
  t.started(b);
  t.remove(b);
  CHECK_FALSE(t.live(b));
  CHECK(t.live(a));
  CHECK(t.size() == 1);
  CHECK(t.least_loaded() == a);  // the removed node is not offered
  std::vector<node_index> seen;
  t.for_each([&](node_index n) { seen.push_back(n); });
  CHECK(seen == std::vector<node_index>{a});
  auto c = t.add(1);
  CHECK(c == b);
  CHECK(t.live(c));
  CHECK(t.running(c) == 0);  // a fresh node
  CHECK(t.capacity(c) == 1);
  CHECK(t.size() == 2);
  CHECK(t.least_loaded() == c);
  auto d = t.add(0);
  CHECK(d != a);
  CHECK(d != c);
}

// -- scheduler_core ----------------------------------------------------------------

TEST_CASE("scheduler_core: ids grow from 1 and dispatch goes to the least loaded node",
          "[core][scheduler_core]") {
  scheduler_core core{core_limits{2, 0, 3}};
  auto n0 = core.add_node(0);
  auto n1 = core.add_node(0);
  auto tasks = enqueue_n(core, 5);
  CHECK(tasks == ids{1, 2, 3, 4, 5});
  CHECK(core.pending() == 5);
  CHECK(core.running() == 0);
  auto orders = dispatch(core);
  REQUIRE(orders.size() == 4);  // 2 nodes x 2 workers
  CHECK(ids_of(orders) == ids{1, 2, 3, 4});
  std::vector<node_index> where;
  for (auto& o : orders) {
    where.push_back(o.node);
    CHECK(o.epoch == 0);
    CHECK(core.function_name(o.fn) == "f");
  }
  CHECK(where == std::vector<node_index>{n0, n1, n0, n1});
  CHECK(holds(orders[2].args, int32_t{2}));
  CHECK(core.pending() == 1);
  CHECK(core.running() == 4);
  CHECK(core.unfinished(5));
  CHECK(core.nodes().running(n0) == 2);
  CHECK(dispatch(core).empty());  // no free slot
}

TEST_CASE("scheduler_core: complete returns the task once", "[core][scheduler_core]") {
  scheduler_core core{core_limits{2, 0, 3}};
  auto n0 = core.add_node(0);
  auto n1 = core.add_node(0);
  core.enqueue("f", caf::make_message(int32_t{0}), 0);
  core.enqueue("g", caf::make_message(std::string{"x"}), 4);
  core.enqueue("f", caf::make_message(int32_t{2}), 0);
  core.enqueue("f", caf::make_message(int32_t{3}), 0);
  core.enqueue("f", caf::make_message(int32_t{4}), 0);
  REQUIRE(ids_of(dispatch(core)) == ids{2, 1, 3, 4});  // 2 has priority 4

  auto done = core.complete(2, 0, true);
  REQUIRE(done);
  CHECK(done->id == 2);
  CHECK(done->was_running);
  CHECK(done->node == n0);
  CHECK(done->epoch == 0);
  CHECK(done->priority == 4);
  CHECK(core.function_name(done->fn) == "g");
  CHECK(holds(done->args, std::string{"x"}));
  CHECK(core.count().ticks == 1);
  CHECK(core.count().succeeded == 1);
  CHECK_FALSE(core.unfinished(2));

  SECTION("a second result of the same lease is late") {
    CHECK_FALSE(core.complete(2, 0, true));
    CHECK(core.count().late_results == 1);
    CHECK(core.count().succeeded == 1);
    CHECK(core.count().ticks == 1);
  }
  SECTION("a failure is counted as failed") {
    auto failed = core.complete(1, 0, false);
    REQUIRE(failed);
    CHECK(failed->node == n1);
    CHECK(core.count().failed == 1);
    CHECK(core.count().succeeded == 1);
    CHECK(core.count().ticks == 2);
  }
  SECTION("a result for an unknown id or a wrong epoch is late") {
    CHECK_FALSE(core.complete(99, 0, true));
    CHECK_FALSE(core.complete(1, 1, true));  // 1 runs under epoch 0
    CHECK(core.count().late_results == 2);
    CHECK(core.unfinished(1));
  }
  SECTION("the freed slot takes the next task") {
    auto next = dispatch(core);
    REQUIRE(next.size() == 1);
    CHECK(next[0].id == 5);
    CHECK(next[0].node == n0);
    CHECK(core.idle() == false);
  }
}

TEST_CASE("scheduler_core: a dead node's tasks go back to the front",
          "[core][scheduler_core]") {
  scheduler_core core{core_limits{3, 0, 3}};
  auto n = core.add_node(0);
  enqueue_n(core, 5);
  REQUIRE(ids_of(dispatch(core)) == ids{1, 2, 3});
  CHECK(pending_ids(core) == ids{4, 5});

  auto quarantined = core.remove_node(n);
  CHECK(quarantined.empty());
  CHECK(core.running() == 0);
  CHECK(core.pending() == 5);
  CHECK(pending_ids(core) == ids{1, 2, 3, 4, 5});  // front, in id order
  CHECK(core.count().requeued == 3);
  CHECK(core.count().ticks == 3);
  CHECK(core.nodes().size() == 0);
  CHECK(dispatch(core).empty());

  // The dead node's results come late: they no longer count.
  CHECK_FALSE(core.complete(1, 0, true));
  CHECK(core.count().late_results == 1);
  CHECK(core.count().succeeded == 0);

  // Redispatched under a new epoch, whose result counts.
  auto m = core.add_node(0);
  auto orders = dispatch(core);
  REQUIRE(ids_of(orders) == ids{1, 2, 3});
  for (auto& o : orders) {
    CHECK(o.node == m);
    CHECK(o.epoch == 1);
  }
  CHECK_FALSE(core.complete(2, 0, true));  // the old lease, still late
  auto done = core.complete(2, 1, true);
  REQUIRE(done);
  CHECK(done->epoch == 1);
  CHECK(done->node == m);
  CHECK(core.count().succeeded == 1);
  CHECK(core.count().late_results == 2);
}

TEST_CASE("scheduler_core: requeued tasks go ahead of their own priority only",
          "[core][scheduler_core]") {
  scheduler_core core{core_limits{2, 0, 3}};
  auto n = core.add_node(0);
  core.enqueue("f", caf::message{}, 0);  // 1
  core.enqueue("f", caf::message{}, 0);  // 2
  REQUIRE(ids_of(dispatch(core)) == ids{1, 2});
  core.enqueue("f", caf::message{}, 5);  // 3
  core.enqueue("f", caf::message{}, 0);  // 4
  core.enqueue("f", caf::message{}, -1); // 5
  core.remove_node(n);
  CHECK(pending_ids(core) == ids{3, 1, 2, 4, 5});

  // A second death puts its tasks ahead of the first one's.
  auto a = core.add_node(1);
  auto b = core.add_node(2);
  REQUIRE(ids_of(dispatch(core)) == ids{3, 1, 2});  // 3 -> a, 1 -> b, 2 -> b
  core.enqueue("f", caf::message{}, 0);  // 6
  core.remove_node(b);  // requeues 1, 2
  CHECK(pending_ids(core) == ids{1, 2, 4, 6, 5});
  core.remove_node(a);  // requeues 3
  CHECK(pending_ids(core) == ids{3, 1, 2, 4, 6, 5});
}

TEST_CASE("scheduler_core: quarantine after max_node_failures deaths",
          "[core][scheduler_core]") {
  SECTION("3: the third death ends the task") {
    scheduler_core core{core_limits{1, 0, 3}};
    core.enqueue("poison", caf::make_message(int32_t{1}), 0);
    core.enqueue("ok", caf::message{}, 0);
    for (uint32_t death = 1; death <= 3; ++death) {
      auto n = core.add_node(0);
      auto orders = dispatch(core);
      REQUIRE(orders.size() == 1);
      CHECK(orders[0].id == 1);
      CHECK(orders[0].epoch == death - 1);
      auto ended = core.remove_node(n);
      if (death < 3) {
        CHECK(ended.empty());
        CHECK(core.unfinished(1));
        CHECK(pending_ids(core) == ids{1, 2});
      } else {
        REQUIRE(ended.size() == 1);
        CHECK(ended[0].id == 1);
        CHECK(ended[0].was_running);
        CHECK(ended[0].node == n);
        CHECK(ended[0].epoch == 2);  // it lost epoch + 1 = 3 nodes
        CHECK(core.function_name(ended[0].fn) == "poison");
        CHECK(holds(ended[0].args, int32_t{1}));
      }
    }
    CHECK_FALSE(core.unfinished(1));
    CHECK(pending_ids(core) == ids{2});
    CHECK(core.count().quarantined == 1);
    CHECK(core.count().requeued == 2);
    CHECK(core.count().ticks == 3);
  }
  SECTION("several tasks of one node: quarantined ones come back in id order") {
    scheduler_core core{core_limits{3, 0, 1}};  // 1: the first death ends them
    auto n = core.add_node(0);
    enqueue_n(core, 3);
    dispatch(core);
    auto ended = core.remove_node(n);
    REQUIRE(ended.size() == 3);
    CHECK(ended[0].id == 1);
    CHECK(ended[1].id == 2);
    CHECK(ended[2].id == 3);
    CHECK(core.idle());
    CHECK(core.count().quarantined == 3);
  }
  SECTION("infinity never quarantines") {
    scheduler_core core{core_limits{1, 0, infinity}};
    core.enqueue("poison", caf::message{}, 0);
    for (uint32_t death = 0; death < 20; ++death) {
      auto n = core.add_node(0);
      auto orders = dispatch(core);
      REQUIRE(orders.size() == 1);
      CHECK(orders[0].epoch == death);
      CHECK(core.remove_node(n).empty());
    }
    CHECK(core.unfinished(1));
    CHECK(core.count().quarantined == 0);
    CHECK(core.count().requeued == 20);
  }
}

TEST_CASE("scheduler_core: max_pending bounds enqueue", "[core][scheduler_core]") {
  scheduler_core core{core_limits{2, 2, 3}};
  CHECK(core.has_room(2));
  CHECK_FALSE(core.has_room(3));
  enqueue_n(core, 2);
  CHECK_FALSE(core.has_room(1));
  CHECK(core.has_room(0));
  auto refused = core.enqueue("f", caf::message{}, 0);
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), errc::queue_full));
  CHECK(core.pending() == 2);

  // Running tasks do not count; the refused task used no id.
  auto n = core.add_node(0);
  dispatch(core);
  CHECK(core.has_room(2));
  CHECK(enqueue_n(core, 2) == ids{3, 4});
  CHECK(is(core.enqueue("f", caf::message{}, 0).error(), errc::queue_full));

  // Requeued tasks are never refused, even above max_pending.
  core.remove_node(n);
  CHECK(core.pending() == 4);
  CHECK_FALSE(core.has_room(1));
  CHECK(pending_ids(core) == ids{1, 2, 3, 4});
}

TEST_CASE("scheduler_core: cancel", "[core][scheduler_core]") {
  scheduler_core core{core_limits{2, 0, 3}};
  auto n = core.add_node(0);
  core.enqueue("f", caf::make_message(int32_t{10}), 0);
  core.enqueue("f", caf::make_message(int32_t{20}), 0);
  core.enqueue("g", caf::make_message(int32_t{30}), 1);
  core.enqueue("f", caf::make_message(int32_t{40}), 0);
  REQUIRE(ids_of(dispatch(core)) == ids{3, 1});

  SECTION("a pending task") {
    auto t = core.cancel(2);
    REQUIRE(t);
    CHECK(t->id == 2);
    CHECK_FALSE(t->was_running);
    CHECK(t->node == no_node);
    CHECK(holds(t->args, int32_t{20}));
    CHECK(core.function_name(t->fn) == "f");
    CHECK(core.pending() == 1);
    CHECK(core.count().cancelled == 1);
    CHECK(core.count().ticks == 0);  // it never left running
    CHECK_FALSE(core.unfinished(2));
    CHECK_FALSE(core.cancel(2));  // twice: unknown now
    CHECK(core.count().cancelled == 1);
  }
  SECTION("a running task") {
    auto t = core.cancel(3);
    REQUIRE(t);
    CHECK(t->was_running);
    CHECK(t->node == n);
    CHECK(t->epoch == 0);
    CHECK(t->priority == 1);
    CHECK(core.function_name(t->fn) == "g");
    CHECK(core.running() == 1);
    CHECK(core.nodes().running(n) == 1);  // its slot is free
    CHECK(core.count().cancelled == 1);
    CHECK(core.count().ticks == 1);
    // Its node's result is late.
    CHECK_FALSE(core.complete(3, 0, true));
    CHECK(core.count().late_results == 1);
    CHECK(core.count().succeeded == 0);
    // The free slot takes the next task.
    CHECK(ids_of(dispatch(core)) == ids{2});
  }
  SECTION("an unknown id") {
    CHECK_FALSE(core.cancel(99));
    CHECK_FALSE(core.cancel(0));
    CHECK(core.count().cancelled == 0);
    CHECK(core.pending() == 2);
    CHECK(core.running() == 2);
  }
  SECTION("a finished task") {
    REQUIRE(core.complete(1, 0, true));
    CHECK_FALSE(core.cancel(1));
  }
}

TEST_CASE("scheduler_core: set_max_workers", "[core][scheduler_core]") {
  scheduler_core core{core_limits{2, 0, 3}};
  auto n = core.add_node(0);
  enqueue_n(core, 8);
  REQUIRE(ids_of(dispatch(core)) == ids{1, 2});

  // Raising fills the new slots.
  core.set_max_workers(4);
  CHECK(core.limits().max_workers == 4);
  CHECK(ids_of(dispatch(core)) == ids{3, 4});
  CHECK(core.nodes().running(n) == 4);

  // Lowering stops nothing: running stays above the new bound...
  core.set_max_workers(1);
  CHECK(core.running() == 4);
  CHECK(core.nodes().running(n) == 4);
  CHECK(core.nodes().capacity(n) == 1);
  CHECK(dispatch(core).empty());
  // ... and new dispatches wait until running is below it.
  for (task_id id : {1, 2, 3}) {
    REQUIRE(core.complete(id, 0, true));
    CHECK(dispatch(core).empty());
  }
  REQUIRE(core.complete(4, 0, true));
  CHECK(ids_of(dispatch(core)) == ids{5});

  // 0 pauses dispatch.
  core.set_max_workers(0);
  REQUIRE(core.complete(5, 0, true));
  CHECK(dispatch(core).empty());
  auto m = core.add_node(3);
  CHECK(dispatch(core).empty());
  // Back to 2: both nodes take the three tasks left, alternating.
  core.set_max_workers(2);
  auto orders = dispatch(core);
  CHECK(ids_of(orders) == ids{6, 7, 8});
  CHECK(core.nodes().running(n) == 2);
  CHECK(core.nodes().running(m) == 1);
}

TEST_CASE("scheduler_core: dispatch waits for nodes", "[core][scheduler_core]") {
  scheduler_core core{core_limits{10, 0, 3}};
  enqueue_n(core, 3);
  CHECK(dispatch(core).empty());
  CHECK(core.pending() == 3);
  auto n = core.add_node(2);
  auto orders = dispatch(core);
  CHECK(ids_of(orders) == ids{1, 2});
  CHECK(orders[0].node == n);
  CHECK(core.pending() == 1);
}

TEST_CASE("scheduler_core: for_each_unfinished lists pending, then running by id",
          "[core][scheduler_core]") {
  scheduler_core core{core_limits{3, 0, 3}};
  auto n = core.add_node(0);
  core.enqueue("a", caf::make_message(int32_t{1}), 0);      // 1
  core.enqueue("b", caf::make_message(int32_t{2}), 0);      // 2
  core.enqueue("a", caf::make_message(int32_t{3}), 0);      // 3
  REQUIRE(ids_of(dispatch(core)) == ids{1, 2, 3});
  core.enqueue("c", caf::make_message(std::string{"4"}), 0);  // 4
  core.enqueue("a", caf::make_message(int32_t{5}), 7);      // 5
  REQUIRE(core.complete(2, 0, true));
  REQUIRE(ids_of(dispatch(core)) == ids{5});
  core.enqueue("b", caf::make_message(int32_t{6}), 0);      // 6
  core.enqueue("b", caf::make_message(int32_t{7}), 9);      // 7

  using row = std::tuple<task_id, std::string, int32_t>;
  std::vector<row> rows;
  core.for_each_unfinished([&](task_id id, const std::string& fn,
                               const caf::message& args, int32_t prio) {
    rows.emplace_back(id, fn, prio);
    if (id == 4)
      CHECK(holds(args, std::string{"4"}));
    else
      CHECK(holds(args, int32_t(id)));
  });
  CHECK(rows
        == std::vector<row>{row{7, "b", 9}, row{4, "c", 0}, row{6, "b", 0},
                            row{1, "a", 0}, row{3, "a", 0}, row{5, "a", 7}});

  // After a node death the requeued tasks lead their priorities.
  core.remove_node(n);
  CHECK(unfinished_ids(core) == ids{7, 5, 1, 3, 4, 6});
}

TEST_CASE("scheduler_core: function names are interned", "[core][scheduler_core]") {
  scheduler_core core{core_limits{10, 0, 3}};
  core.add_node(0);
  core.enqueue("alpha", caf::message{}, 0);
  core.enqueue("beta", caf::message{}, 0);
  core.enqueue("alpha", caf::message{}, 0);
  auto orders = dispatch(core);
  REQUIRE(orders.size() == 3);
  CHECK(orders[0].fn == orders[2].fn);
  CHECK(orders[0].fn != orders[1].fn);
  CHECK(core.function_name(orders[0].fn) == "alpha");
  CHECK(core.function_name(orders[1].fn) == "beta");
}

namespace {

// Records the journal's calls as text.
struct recording_journal : journal {
  std::vector<std::string> events;

  void enqueued(task_id id, const std::string& function, const caf::message&,
                int32_t priority) override {
    events.push_back("enqueued " + std::to_string(id) + " " + function + " "
                     + std::to_string(priority));
  }
  void dispatched(task_id id, uint32_t epoch, node_index node) override {
    events.push_back("dispatched " + std::to_string(id) + " epoch "
                     + std::to_string(epoch) + " node " + std::to_string(node));
  }
  void requeued(task_id id, uint32_t node_failures) override {
    events.push_back("requeued " + std::to_string(id) + " failures "
                     + std::to_string(node_failures));
  }
  void finished(task_id id, outcome_kind how, node_index node, const caf::message&,
                const caf::error& error) override {
    static const char* names[] = {"succeeded", "failed", "cancelled", "quarantined"};
    events.push_back("finished " + std::to_string(id) + " "
                     + names[static_cast<int>(how)] + " node "
                     + (node == no_node ? "none" : std::to_string(node))
                     + (error ? " " + describe(error) : ""));
  }
};

} // namespace

TEST_CASE("scheduler_core: the journal sees every change in order",
          "[core][scheduler_core]") {
  recording_journal j;
  scheduler_core core{core_limits{2, 1, 2}};
  core.set_journal(&j);
  auto n = core.add_node(0);
  core.enqueue("f", caf::message{}, 0);          // 1
  dispatch(core);
  core.enqueue("g", caf::message{}, 3);          // 2
  CHECK_FALSE(core.enqueue("h", caf::message{}, 0));  // refused: not journaled
  dispatch(core);
  core.complete(1, 0, true);
  core.complete(1, 0, true);                     // late: not journaled
  core.enqueue("f", caf::message{}, 0);          // 3
  core.remove_node(n);                           // requeues 2 (3 was pending)
  auto m = core.add_node(1);
  dispatch(core);                                // 2 on m, epoch 1
  core.cancel(3);
  core.remove_node(m);                           // 2 quarantined (2 deaths)
  CHECK_FALSE(core.cancel(2));                   // unknown: not journaled
  CHECK(j.events
        == std::vector<std::string>{
          "enqueued 1 f 0", "dispatched 1 epoch 0 node 0", "enqueued 2 g 3",
          "dispatched 2 epoch 0 node 0", "finished 1 succeeded node 0", "enqueued 3 f 0",
          "requeued 2 failures 1", "dispatched 2 epoch 1 node 0",
          "finished 3 cancelled node none gasched::cancelled",
          "finished 2 quarantined node 0 gasched::node_failures: 2 nodes died while "
          "running it"});
  CHECK(core.idle());
  core.set_journal(nullptr);
  core.enqueue("f", caf::message{}, 0);
  CHECK(j.events.size() == 10);
}

// -- adaptive prefetch ---------------------------------------------------------------

namespace {

uint64_t fake_now_us = 0;

uint64_t fake_clock() {
  return fake_now_us;
}

struct sent {
  node_index node;
  task_id id;
  uint32_t epoch;
};

std::vector<sent> dispatch_all(scheduler_core& core) {
  std::vector<sent> out;
  core.dispatch([&](const dispatch_order& d) { out.push_back({d.node, d.id, d.epoch}); });
  return out;
}

} // namespace

TEST_CASE("adaptive prefetch: nothing held before results, then what covers a round trip, "
          "and a stalled node's newest held tasks move to a free slot",
          "[core][prefetch]") {
  core_limits lim;
  lim.prefetch = adaptive_prefetch;
  scheduler_core core{lim};
  REQUIRE(core.adaptive());
  core.set_clock(fake_clock);
  fake_now_us = 1000;
  auto a = core.add_node(2);
  auto b = core.add_node(2);
  for (int i = 0; i < 6; ++i)
    REQUIRE(core.enqueue("f", caf::make_message(i), 0));
  auto first = dispatch_all(core);
  REQUIRE(first.size() == 4);  // unknown run time: only the slots
  CHECK(core.hold_limit(a, 0) == 2);
  // Round trip 100 us, of which 10 us in the function: rtt 90, run 10.
  fake_now_us += 100;
  for (auto& s : first)
    REQUIRE(core.complete(s.id, s.epoch, {}, {}, run_timing{10, 0}));
  CHECK(core.run_estimate(0) == Approx(10));
  CHECK(core.round_trip(a) == Approx(90));
  // 2 slots x 90 / 10 = 18 held beyond the 2 running, at most 16 per slot.
  CHECK(core.hold_limit(a, 0) == 20);
  for (int i = 0; i < 38; ++i)
    REQUIRE(core.enqueue("f", caf::make_message(i), 0));
  auto held = dispatch_all(core);
  REQUIRE(held.size() == 40);
  CHECK(core.nodes().running(a) == 20);
  CHECK(core.nodes().running(b) == 20);
  CHECK(core.reclaim().moved.empty());  // no free slot anywhere
  // b finishes everything; a has said nothing for a second: it is stalled.
  fake_now_us += 1'000'000;
  std::vector<sent> on_a;
  for (auto& s : held)
    if (s.node == b)
      REQUIRE(core.complete(s.id, s.epoch, {}, {}, run_timing{10, 0}));
    else
      on_a.push_back(s);
  CHECK(core.hold_limit(a, 0) == 2);  // a stalled node takes nothing more
  auto r = core.reclaim();
  REQUIRE(r.moved.size() == 2);  // as many as b has free slots
  CHECK(r.moved[0].id == on_a.back().id);  // newest first
  CHECK(r.moved[1].id == on_a[on_a.size() - 2].id);
  CHECK(core.reclaimed() == 2);
  auto again = dispatch_all(core);
  REQUIRE(again.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(again[i].node == b);
    CHECK(again[i].epoch == r.moved[0].epoch + 1);
  }
  // The old lease's result is late; the new one counts, once.
  auto late = core.count().late_results;
  CHECK_FALSE(core.complete(r.moved[0].id, r.moved[0].epoch, true));
  CHECK(core.count().late_results == late + 1);
  CHECK(core.complete(again[0].id, again[0].epoch, true));
  CHECK_FALSE(core.complete(again[0].id, again[0].epoch, true));
}

TEST_CASE("adaptive prefetch: nothing is held for tasks longer than two round trips per slot, "
          "nor behind them",
          "[core][prefetch]") {
  core_limits lim;
  lim.prefetch = adaptive_prefetch;
  scheduler_core core{lim};
  core.set_clock(fake_clock);
  fake_now_us = 5000;
  auto a = core.add_node(4);
  REQUIRE(core.enqueue("long", caf::make_message(1), 0));
  REQUIRE(core.enqueue("short", caf::make_message(1), 0));
  auto first = dispatch_all(core);
  REQUIRE(first.size() == 2);
  fake_now_us += 100;
  REQUIRE(core.complete(first[1].id, first[1].epoch, {}, {}, run_timing{0, 0}));
  fake_now_us += 99'900;
  REQUIRE(core.complete(first[0].id, first[0].epoch, {}, {}, run_timing{99'900, 0}));
  // rtt about 100 us; 4 x 100 < 0.5 x 99,900: long. The short one: 16 per slot.
  CHECK(core.hold_limit(a, 0) == 4);
  CHECK(core.hold_limit(a, 1) == 4 + 64);
  for (int i = 0; i < 4; ++i)
    REQUIRE(core.enqueue("long", caf::make_message(i), 0));
  REQUIRE(dispatch_all(core).size() == 4);
  CHECK(core.hold_limit(a, 1) == 4);  // every slot runs a long task
}
