// scheduler_core under a client's controls: the max_pending bound, cancel,
// and max_workers changed while tasks run.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

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
