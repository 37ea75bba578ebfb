// node_table: which node a task goes to, relative to each node's capacity,
// and what max_workers and prefetch change about that.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

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
