// Task-worker actors supervised by their node, as gascheduler's scheduler
// spawn_links a worker process per task and traps its exit: a worker killed
// mid-task is restarted and its task counts as a failed attempt; beyond the
// restart intensity the node stops and its tasks run elsewhere.
#include "actor_support.hpp"

#include <condition_variable>
#include <mutex>
#include <set>

using namespace gasched;
using namespace gasched::testing;

namespace {

// A task function that blocks on the nodes named in `hold` until cancelled,
// and records the task-worker actor of every call.
struct holder {
  std::mutex mtx;
  std::condition_variable called;
  std::vector<caf::actor> workers;
  std::set<std::string> hold;

  void add_to(registry& reg) {
    reg.add("test.hold", [this](int32_t n) {
      bool blocks;
      {
        std::lock_guard<std::mutex> guard{mtx};
        workers.push_back(this_task::worker());
        blocks = hold.count(this_task::node_name()) > 0;
        called.notify_all();
      }
      while (blocks && !this_task::cancelled())
        this_task::sleep_for(std::chrono::seconds(60));  // wakes on the cancel
      return n;
    });
  }

  // The worker of call number `n` (from 1), once it is made.
  caf::actor worker_of_call(size_t n) {
    std::unique_lock<std::mutex> guard{mtx};
    if (!called.wait_for(guard, 10s, [&] { return workers.size() >= n; }))
      return nullptr;
    return workers[n - 1];
  }

  size_t calls() {
    std::lock_guard<std::mutex> guard{mtx};
    return workers.size();
  }
};

node_options one_slot(std::string name) {
  node_options o;
  o.name = std::move(name);
  o.slots = 1;
  return o;
}

} // namespace

TEST_CASE("task worker killed mid-task: the node restarts it, the task is retried, and the "
          "node keeps serving",
          "[supervision]") {
  cluster c;
  holder h;
  h.hold = {"n1"};
  h.add_to(c.reg());
  // One slot: without a restarted worker nothing more runs on this node.
  auto opts = c.options({c.node(one_slot("n1"))});
  opts.max_retries = 2;
  auto sched = c.scheduler(opts);
  auto id = c.execute(sched, make_task("test.hold", caf::make_message(int32_t{7})));
  auto first = h.worker_of_call(1);
  REQUIRE(first);
  c.self()->send_exit(first, caf::exit_reason::kill);
  CHECK(c.wait_down(first) == caf::exit_reason::kill);
  // The death was attempt 1; attempt 2 runs on a new worker, and blocks too:
  // that one is killed as well, which uses up max_retries.
  auto second = h.worker_of_call(2);
  REQUIRE(second);
  CHECK(second != first);
  c.self()->send_exit(second, caf::exit_reason::kill);
  auto r = c.results(1).front();
  CHECK(r.id == id);
  CHECK(is(r.error, errc::max_retries));
  CHECK_THAT(describe(r.error), Catch::Contains("2 attempts")
                                  && Catch::Contains("task worker died"));
  CHECK(r.node == "n1");
  // It keeps serving, on a third worker: a task that does not block.
  {
    std::lock_guard<std::mutex> guard{h.mtx};
    h.hold.clear();
  }
  auto next = c.execute(sched, make_task("test.hold", caf::make_message(int32_t{8})));
  r = c.results(1).front();
  CHECK(r.id == next);
  REQUIRE(r.ok());
  CHECK(r.value.get_as<int32_t>(0) == 8);
  CHECK(r.node == "n1");
  CHECK(h.calls() == 3);
  CHECK(h.worker_of_call(3) != second);
}

TEST_CASE("task worker killed mid-task with attempts left: the task succeeds on the restarted "
          "worker",
          "[supervision]") {
  cluster c;
  holder h;
  h.hold = {"n1"};
  h.add_to(c.reg());
  auto opts = c.options({c.node(one_slot("n1"))});
  opts.max_retries = 3;
  auto sched = c.scheduler(opts);
  auto id = c.execute(sched, make_task("test.hold", caf::make_message(int32_t{5})));
  auto first = h.worker_of_call(1);
  REQUIRE(first);
  {
    std::lock_guard<std::mutex> guard{h.mtx};
    h.hold.clear();  // the next attempt returns at once
  }
  c.self()->send_exit(first, caf::exit_reason::kill);
  auto r = c.results(1).front();
  CHECK(r.id == id);
  REQUIRE(r.ok());
  CHECK(r.value.get_as<int32_t>(0) == 5);
  CHECK(h.calls() == 2);
  CHECK(h.worker_of_call(2) != first);
}

TEST_CASE("task workers dying beyond the restart intensity stop their node, and its task runs "
          "elsewhere",
          "[supervision]") {
  cluster c;
  holder h;
  h.hold = {"n1"};
  h.add_to(c.reg());
  auto o = one_slot("n1");
  o.worker_restarts = 1;
  o.worker_restart_period = std::chrono::seconds(60);
  auto n1 = c.node(o);
  auto opts = c.options({n1});
  opts.max_retries = 10;
  auto sched = c.scheduler(opts);
  auto id = c.execute(sched, make_task("test.hold", caf::make_message(int32_t{3})));
  auto first = h.worker_of_call(1);
  REQUIRE(first);
  c.self()->send_exit(first, caf::exit_reason::kill);  // restarted: 1 within the period
  auto second = h.worker_of_call(2);
  REQUIRE(second);
  c.self()->send_exit(second, caf::exit_reason::kill);  // 2: more than worker_restarts
  auto reason = c.wait_down(n1);
  CHECK(is(reason, errc::node_failures));
  CHECK_THAT(describe(reason), Catch::Contains("worker_restarts"));
  // The scheduler saw its node go down: the task is pending again, and a new
  // node finishes it.
  REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, c.node(one_slot("n2"))));
  auto r = c.results(1).front();
  CHECK(r.id == id);
  REQUIRE(r.ok());
  CHECK(r.value.get_as<int32_t>(0) == 3);
  CHECK(r.node == "n2");
}
