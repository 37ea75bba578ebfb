// scheduler_core after a restart or a takeover: a task the journal shows
// running on a node waits for that node to claim it, and runs on under its
// old lease rather than a second time; what no node claims runs again.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

namespace {

constexpr uint32_t old_epoch = 0x10000;  // a lease of generation 1
constexpr uint32_t generation = 2;

// A snapshot with tasks 1..3 running (1 and 2 on "a", 3 on "b") and 4 pending.
journal_snapshot snapshot() {
  journal_snapshot s;
  s.generation = generation;
  s.next_id = 5;
  s.functions = {"f"};
  for (task_id id = 1; id <= 4; ++id) {
    restored_task t;
    t.id = id;
    t.front = id <= 3;
    t.running = id <= 3;
    if (id <= 3) {
      t.node = id <= 2 ? "a" : "b";
      t.epoch = old_epoch + static_cast<uint32_t>(id);
    }
    s.pending.push_back(std::move(t));
  }
  return s;
}

} // namespace

TEST_CASE("scheduler_core: a node that claims its tasks after a takeover keeps them",
          "[core][adopt]") {
  scheduler_core core{core_limits{4, 0, 3}};
  REQUIRE_FALSE(core.restore(snapshot()));
  CHECK(core.unadopted() == 3);
  CHECK(pending_ids(core) == ids{4});
  CHECK(core.unfinished(1));
  CHECK_FALSE(core.idle());

  auto a = core.add_node(0);
  // "a" holds task 1 under its lease, task 2 under another epoch (not what
  // the journal vouches for), and task 3, which was "b"'s.
  auto adopted = core.adopt(a, "a", {{1, old_epoch + 1}, {2, old_epoch + 7}, {3, old_epoch + 3}});
  CHECK(adopted == ids{1});
  CHECK(core.running() == 1);
  CHECK(core.nodes().running(a) == 1);
  // Task 2 went back with the node's return; task 3 still waits for "b".
  CHECK(pending_ids(core) == ids{2, 4});
  CHECK(core.unadopted() == 1);

  // The adopted task's result counts under its old lease, once.
  auto done = core.complete(1, old_epoch + 1, a, caf::make_message(1), caf::error{});
  REQUIRE(done);
  CHECK(done->id == 1);
  CHECK_FALSE(core.complete(1, old_epoch + 1, a, caf::make_message(1), caf::error{}));
  CHECK(core.count().succeeded == 1);

  // "b" never comes back: its task runs again, under this generation.
  CHECK(core.release_unadopted() == 1);
  CHECK(core.unadopted() == 0);
  auto orders = dispatch(core);
  CHECK(ids_of(orders) == ids{3, 2, 4});
  for (auto& o : orders)
    CHECK(o.epoch >> 16 == generation);
  // A late result of the old run of task 3 does not count.
  CHECK_FALSE(core.complete(3, old_epoch + 3, true));
}

TEST_CASE("scheduler_core: an adopted task whose node dies runs again under a new lease",
          "[core][adopt]") {
  scheduler_core core{core_limits{4, 0, 3}};
  REQUIRE_FALSE(core.restore(snapshot()));
  auto a = core.add_node(0);
  REQUIRE(core.adopt(a, "a", {{1, old_epoch + 1}, {2, old_epoch + 2}}) == ids{1, 2});
  core.remove_node(a);
  CHECK(pending_ids(core) == ids{1, 2, 4});
  auto b = core.add_node(0);
  auto orders = dispatch(core);
  REQUIRE(ids_of(orders).size() == 3);
  for (auto& o : orders) {
    CHECK(o.node == b);
    CHECK(o.epoch == epoch_base(generation));  // the first lease of this run
  }
}

TEST_CASE("scheduler_core: a task waiting for its node can be cancelled",
          "[core][adopt]") {
  scheduler_core core{core_limits{4, 0, 3}};
  REQUIRE_FALSE(core.restore(snapshot()));
  auto t = core.cancel(3);
  REQUIRE(t);
  CHECK_FALSE(t->was_running);
  CHECK(core.count().cancelled == 1);
  auto b = core.add_node(0);
  CHECK(core.adopt(b, "b", {{3, old_epoch + 3}}).empty());  // gone: the node drops it
  CHECK(core.unadopted() == 2);
}

TEST_CASE("scheduler_core: a task the journal kept as running, node and epoch unknown, "
          "is adopted by whichever node claims it under an earlier generation's lease",
          "[core][adopt]") {
  journal_snapshot s;
  s.generation = generation;
  s.next_id = 4;
  s.functions = {"f"};
  for (task_id id = 1; id <= 3; ++id) {
    restored_task t;
    t.id = id;
    t.front = id <= 2;
    t.running = id <= 2;  // 1 and 2 ran; 3 was pending
    s.pending.push_back(std::move(t));
  }
  scheduler_core core{core_limits{4, 0, 3}};
  REQUIRE_FALSE(core.restore(std::move(s)));
  CHECK(core.unadopted() == 2);
  CHECK(pending_ids(core) == ids{3});
  auto a = core.add_node(0);
  // A lease of this generation is not one the journal can vouch for.
  CHECK(core.adopt(a, "a", {{1, epoch_base(generation)}}).empty());
  CHECK(core.unadopted() == 2);  // "a" is no name the journal knows: nothing requeued
  // Task 3's dispatch left before the journal recorded it: claimed, it is
  // taken out of pending too.
  CHECK(core.adopt(a, "a", {{1, old_epoch + 5}, {3, old_epoch + 9}}) == ids{1, 3});
  CHECK(core.adopted() == 2);
  CHECK(core.running() == 2);
  CHECK(core.pending() == 0);
  CHECK(core.nodes().running(a) == 2);
  // A second claim of a task already adopted is refused.
  auto b = core.add_node(0);
  CHECK(core.adopt(b, "b", {{1, old_epoch + 1}}).empty());
  CHECK(core.complete(3, old_epoch + 9, a, caf::make_message(3), caf::error{}));
  // Nobody claims task 2: after the bound it runs again.
  CHECK(core.release_unadopted() == 1);
  CHECK(ids_of(dispatch(core)) == ids{2});
}

// Found by the soak: a scheduler killed after dispatching tasks whose accept
// it had not committed; started again, it gave their ids to new tasks, and a
// node claiming its old lease on such an id got the new task's result made
// of the old task's run (a wrong value, no attempt of its own).
TEST_CASE("scheduler_core: a claim on an id the journal never held does not adopt this run's "
          "task of that id",
          "[core][adopt]") {
  journal_snapshot s;
  s.generation = generation;
  s.next_id = 4;  // 4 and 5 were dispatched by the earlier run, never committed
  s.functions = {"f"};
  scheduler_core core{core_limits{4, 0, 3}};
  REQUIRE_FALSE(core.restore(std::move(s)));
  auto id = core.enqueue("f", caf::make_message(int32_t{1}), 0);  // this run's task 4
  REQUIRE(id);
  CHECK(*id == 4);
  auto a = core.add_node(0);
  CHECK(core.adopt(a, "a", {{4, old_epoch + 4}, {5, old_epoch + 5}}).empty());
  CHECK(core.adopted() == 0);
  CHECK(pending_ids(core) == ids{4});
  // Its own run, under this generation's lease.
  auto orders = dispatch(core);
  REQUIRE(ids_of(orders) == ids{4});
  CHECK(orders.front().epoch >> 16 == generation);
}

// The journal names the node a task was dispatched to (its name, as it
// joined) and the lease: a claim of that lease from any other node is
// refused, the task waits for its own node, and that node back without it
// sends it to the front of pending.
TEST_CASE("scheduler_core: a claim from another node than the one the journal names is "
          "refused and counted late, and the named node's claim is adopted",
          "[core][adopt]") {
  SECTION("the named node claims it") {
    scheduler_core core{core_limits{4, 0, 3}};
    REQUIRE_FALSE(core.restore(snapshot()));
    auto b = core.add_node(0);
    // "b" holds task 1 under the very lease the journal kept for "a".
    CHECK(core.adopt(b, "b", {{1, old_epoch + 1}, {3, old_epoch + 3}}) == ids{3});
    CHECK(core.count().late_results == 1);
    CHECK(core.unadopted() == 2);  // 1 and 2 still wait for "a"
    auto a = core.add_node(0);
    CHECK(core.adopt(a, "a", {{1, old_epoch + 1}, {2, old_epoch + 2}}) == ids{1, 2});
    CHECK(core.unadopted() == 0);
    CHECK(core.nodes().running(a) == 2);
    // b's report on task 1 is no holder's: refused.
    CHECK_FALSE(core.complete(1, old_epoch + 1, b, caf::make_message(1), caf::error{}));
    CHECK(core.complete(1, old_epoch + 1, a, caf::make_message(1), caf::error{}));
  }
  SECTION("the named node comes back without it") {
    scheduler_core core{core_limits{4, 0, 3}};
    REQUIRE_FALSE(core.restore(snapshot()));
    auto b = core.add_node(0);
    CHECK(core.adopt(b, "b", {{1, old_epoch + 1}}).empty());  // not b's: refused
    CHECK(core.count().late_results == 1);
    CHECK(core.adopted() == 0);
    CHECK(pending_ids(core) == ids{3, 4});  // b is back without its task 3
    auto a = core.add_node(0);
    CHECK(core.adopt(a, "a", {}).empty());  // a restarted: it runs nothing of before
    CHECK(pending_ids(core) == ids{1, 2, 3, 4});
    CHECK(core.unadopted() == 0);
    auto orders = dispatch(core);
    REQUIRE(ids_of(orders) == ids{1, 2, 3, 4});
    for (auto& o : orders)
      CHECK(o.epoch >> 16 == generation);  // run again, under this generation
    // The refused run's result, should it come, is late.
    CHECK_FALSE(core.complete(1, old_epoch + 1, b, caf::make_message(1), caf::error{}));
    CHECK(core.count().late_results == 2);
  }
}

// A second takeover before any claim came: the journal holds the task
// pending (the first resume put it back) with the node and lease of its
// last run. It keeps its place in pending, and only that claim adopts it.
TEST_CASE("scheduler_core: a task a resume put back to pending, its node and lease kept, keeps "
          "its place and is adopted only from that node under that lease",
          "[core][adopt]") {
  journal_snapshot s;
  s.generation = generation + 1;
  s.next_id = 4;
  s.functions = {"f"};
  for (task_id id = 1; id <= 3; ++id) {
    restored_task t;
    t.id = id;
    t.front = id == 2;  // 2 ran on "a" before the first resume
    if (id == 2) {
      t.node = "a";
      t.epoch = old_epoch + 2;
    }
    s.pending.push_back(std::move(t));
  }
  std::swap(s.pending[0], s.pending[1]);  // dispatch order: 2 in front
  scheduler_core core{core_limits{4, 0, 3}};
  REQUIRE_FALSE(core.restore(std::move(s)));
  CHECK(core.unadopted() == 0);
  CHECK(pending_ids(core) == ids{2, 1, 3});
  auto b = core.add_node(0);
  CHECK(core.adopt(b, "b", {{2, old_epoch + 2}}).empty());  // another node's claim
  CHECK(core.count().late_results == 1);
  auto a = core.add_node(0);
  CHECK(core.adopt(a, "a", {{2, old_epoch + 3}}).empty());  // another lease
  CHECK(core.adopt(a, "a", {{2, old_epoch + 2}}) == ids{2});
  CHECK(core.count().late_results == 2);
  CHECK(pending_ids(core) == ids{1, 3});
  CHECK(core.nodes().running(a) == 1);
}
