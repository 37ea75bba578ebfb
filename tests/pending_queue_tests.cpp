// pending_queue: the order in which pending tasks leave, by priority, FIFO,
// requeued tasks first, and removal from anywhere.
#include "core_support.hpp"

#include <algorithm>
#include <list>
#include <map>
#include <random>

using namespace gasched;
using namespace gasched::core_test;

namespace {

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

} // namespace

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

TEST_CASE("pending_queue: accepted times come back exact, however long a task waits",
          "[core][pending_queue]") {
  pending_queue q;
  constexpr uint64_t hour = 3'600'000'000;
  const uint64_t t0 = 1'700'000'000'000'000;  // a clock far from 0
  // Task 1 waits 3 days: far longer than its entry's 32-bit offset spans.
  q.push_back(1, 0, 0, caf::message{}, 0, t0);
  q.push_back(2, 0, 0, caf::message{}, 0, t0 + 40);
  q.push_back(3, 0, 0, caf::message{}, 0, t0 + 30 * hour + 5);   // a new mark
  q.push_back(4, 2, 0, caf::message{}, 0, t0 + 72 * hour + 17);  // another level
  q.push_back(5, 0, 0, caf::message{}, 3, t0 + 72 * hour + 33);  // restored with failures
  q.push_back(6, 0, 0, caf::message{}, 0, t0 + 7);               // the clock went back
  q.push_front(queued_task{9, 0, 0, 1, caf::message{}, 4, t0 + 123});
  auto a = q.pop();  // the highest priority first
  CHECK(a.id == 4);
  CHECK(a.accepted_us == t0 + 72 * hour + 17);
  auto b = q.pop();  // requeued: exact, with its failures and lease
  CHECK(b.id == 9);
  CHECK(b.accepted_us == t0 + 123);
  CHECK(b.node_failures == 1);
  CHECK(b.lease == 4);
  CHECK(q.pop().accepted_us == t0);
  CHECK(q.remove(3)->accepted_us == t0 + 30 * hour + 5);
  CHECK(q.pop().accepted_us == t0 + 40);
  auto e = q.pop();
  CHECK(e.id == 5);
  CHECK(e.accepted_us == t0 + 72 * hour + 33);
  CHECK(e.node_failures == 3);
  auto f = q.pop();
  CHECK(f.id == 6);
  CHECK(f.accepted_us == t0 + 7);
  CHECK(q.empty());
}

// Large enough to span many of the queue's blocks (they grow to 2,048
// entries), with requeues, removals and pops interleaved, against a model
// that is obviously right: a list per priority.
TEST_CASE("pending_queue: 60,000 tasks over many blocks keep the model's order",
          "[core][pending_queue]") {
  pending_queue q;
  std::map<int32_t, std::list<task_id>, std::greater<>> model;
  std::mt19937 rng{7};
  task_id next_id = 1;
  task_id next_requeued = 1'000'000;
  size_t size = 0;
  auto model_pop = [&] {
    auto it = model.begin();
    auto id = it->second.front();
    it->second.pop_front();
    if (it->second.empty())
      model.erase(it);
    return id;
  };
  auto model_remove = [&](task_id id) {
    for (auto it = model.begin(); it != model.end(); ++it)
      if (auto pos = std::find(it->second.begin(), it->second.end(), id);
          pos != it->second.end()) {
        it->second.erase(pos);
        if (it->second.empty())
          model.erase(it);
        return true;
      }
    return false;
  };
  for (int step = 0; step < 120'000; ++step) {
    auto op = rng() % 100;
    int32_t priority = static_cast<int32_t>(rng() % 3);
    if (op < 55 || size == 0) {
      q.push_back(next_id, priority, 0, caf::make_message(int32_t(next_id)));
      model[priority].push_back(next_id++);
      ++size;
    } else if (op < 65) {
      q.push_front(requeued(next_requeued, priority));
      model[priority].push_front(next_requeued++);
      ++size;
    } else if (op < 70) {
      // Any id, pending or not: remove agrees with the model on which.
      auto id = static_cast<task_id>(1 + rng() % next_id);
      auto removed = q.remove(id);
      REQUIRE(removed.has_value() == model_remove(id));
      if (removed)
        --size;
    } else {
      auto t = q.pop();
      REQUIRE(t.id == model_pop());
      if (t.id < 1'000'000)
        REQUIRE(holds(t.args, int32_t(t.id)));
      --size;
    }
    REQUIRE(q.size() == size);
    if (step % 20'000 == 0) {
      std::vector<task_id> expected;
      for (auto& [p, l] : model)
        expected.insert(expected.end(), l.begin(), l.end());
      REQUIRE(visit_all(q) == expected);
    }
  }
  CHECK(size > 10'000);  // the queue did grow over many blocks
  while (!model.empty())
    REQUIRE(q.pop().id == model_pop());
  CHECK(q.empty());
}
