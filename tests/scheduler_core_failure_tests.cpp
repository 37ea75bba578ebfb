// scheduler_core when nodes die: their tasks go back to the front of their
// priority, and a task that outlives max_node_failures nodes is quarantined.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

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
