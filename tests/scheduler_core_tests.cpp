// scheduler_core: ids, dispatch to the least loaded node, results taken
// once, the unfinished tasks in order, and what the journal is told.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

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

TEST_CASE("scheduler_core: only the lease's holder can end it", "[core][scheduler_core]") {
  scheduler_core core{core_limits{1, 0, 3}};
  auto a = core.add_node(0);
  auto b = core.add_node(0);
  enqueue_n(core, 2);
  auto orders = dispatch(core);
  REQUIRE(orders.size() == 2);
  auto& mine = orders[0];
  auto other = mine.node == a ? b : a;
  // Another node naming the lease, epoch and all: refused, and not a late result.
  CHECK_FALSE(core.complete(mine.id, mine.epoch, other, caf::message{}, caf::error{}, {}));
  CHECK(core.count().late_results == 0);
  CHECK(core.count().succeeded == 0);
  CHECK(core.running() == 2);
  auto done = core.complete(mine.id, mine.epoch, mine.node, caf::message{}, caf::error{}, {});
  REQUIRE(done);
  CHECK(done->node == mine.node);
  CHECK(core.count().succeeded == 1);
}
