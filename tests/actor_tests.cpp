// gasched in one process: gascheduler's eunit suite (the tests that can run
// in one process), then what gasched adds. Nodes are actors here; the
// multi-process versions are in cluster_tests.cpp.
#include "actor_support.hpp"
#include "thread_activity.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <unistd.h>

using namespace gasched;
using namespace gasched::testing;

namespace {

std::set<std::string> node_set(std::initializer_list<const char*> names) {
  return {names.begin(), names.end()};
}

// The most any thread of an actor system made from `cfg` was switched out
// during `idle` with nothing to do, after a round of work had woken them
// all. Its threads are those that appear when it starts.
uint64_t busiest_idle_thread(caf::actor_system_config& cfg, std::chrono::milliseconds idle) {
  auto before = thread_ids();
  caf::actor_system sys{cfg};
  std::map<pid_t, uint64_t> switches;
  for (auto tid : thread_ids())
    if (before.count(tid) == 0)
      switches[tid] = 0;
  {
    caf::scoped_actor self{sys};
    // An argument, unused: CAF 0.17 dereferences a null tuple when a
    // function actor is spawned with none (UndefinedBehaviorSanitizer says so).
    auto echo = sys.spawn([](int32_t) -> caf::behavior { return {[](int32_t x) { return x; }}; },
                          int32_t{0});
    for (int32_t i = 0; i < 100; ++i)
      self->request(echo, 10s, i).receive([](int32_t) {}, [](caf::error&) {});
    self->send_exit(echo, caf::exit_reason::user_shutdown);
  }
  // Work stealing spins, then naps 50 us at a time, then sleeps 10 ms
  // between polls: past the first two, it still wakes 100 times a second.
  std::this_thread::sleep_for(100ms);
  for (auto& [tid, n] : switches)
    n = context_switches(tid);
  std::this_thread::sleep_for(idle);
  uint64_t most = 0;
  std::string each;
  for (auto& [tid, n] : switches) {
    n = context_switches(tid) - n;
    most = std::max(most, n);
    each += " " + std::to_string(n);
  }
  UNSCOPED_INFO("switches of each of the actor system's " << switches.size() << " threads in "
                << idle.count() << " ms idle:" << each);
  return most;
}

} // namespace

// -- gascheduler's suite ---------------------------------------------------------

TEST_CASE("execute_tasks: 25 tasks on 2 nodes, every node used, stats as gascheduler's",
          "[gascheduler]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(2)));
  for (int32_t id = 1; id <= 25; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{100})));
  std::set<int32_t> ids;
  std::set<std::string> nodes;
  for (auto& r : c.results(25)) {
    REQUIRE(r.ok());
    CHECK(r.scheduler == "test");
    CHECK(r.task.function == "test.sleep");
    REQUIRE(r.task.args.match_elements<int32_t, int32_t>());
    CHECK(r.value.get_as<int32_t>(0) == r.task.args.get_as<int32_t>(0));
    ids.insert(r.value.get_as<int32_t>(0));
    nodes.insert(r.node);
  }
  CHECK(ids.size() == 25);
  CHECK(*ids.begin() == 1);
  CHECK(*ids.rbegin() == 25);
  CHECK(nodes == node_set({"n1", "n2"}));
  check_idle_stats(c.get_stats(sched), 25, {"n1", "n2"});
  CHECK(c.ask<caf::ok_atom>(sched, stop_atom::value));
}

TEST_CASE("max_workers: 10 nodes, 5,000 tasks, never more than 10 at once on a node",
          "[gascheduler]") {
  cluster c;
  // Each node counts the tasks it runs at once: what max_workers bounds.
  struct load {
    std::mutex mtx;
    std::map<std::string, int> now, peak;
  };
  auto loads = std::make_shared<load>();
  c.reg().add("count.load", [loads](int32_t id) {
    auto node = this_task::node_name();
    {
      std::lock_guard<std::mutex> guard{loads->mtx};
      auto n = ++loads->now[node];
      loads->peak[node] = std::max(loads->peak[node], n);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> guard{loads->mtx};
    --loads->now[node];
    return id;
  });
  auto sched = c.scheduler(c.options(c.nodes(10)));
  std::vector<task> batch;
  for (int32_t id = 1; id <= 5000; ++id)
    batch.push_back(make_task("count.load", caf::make_message(id)));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(batch)));
  // The scheduler's own view, asked while the tasks run.
  auto s = c.get_stats(sched);
  for (auto& n : s.worker_nodes)
    CHECK(n.running <= 10);
  std::set<int32_t> ids;
  std::set<std::string> nodes;
  for (auto& r : c.results(5000, 30s)) {
    REQUIRE(r.ok());
    ids.insert(r.value.get_as<int32_t>(0));
    nodes.insert(r.node);
  }
  CHECK(ids.size() == 5000);
  CHECK(nodes.size() == 10);
  for (auto& [node, peak] : loads->peak) {
    INFO(node);
    CHECK(peak <= 10);
    CHECK(peak >= 1);
  }
}

TEST_CASE("max_retries: 100 tasks that always fail end in max_retries", "[gascheduler]") {
  cluster c;
  auto attempts = std::make_shared<std::atomic<int>>(0);
  c.reg().add("count.fail", [attempts]() -> int32_t {
    ++*attempts;
    throw std::runtime_error("testing_max_retries");
  });
  auto sched = c.scheduler(c.options(c.nodes(10)));
  for (int i = 0; i < 100; ++i)
    c.execute(sched, make_task("count.fail"));
  for (auto& r : c.results(100)) {
    REQUIRE_FALSE(r.ok());
    CHECK(is(r.error, errc::max_retries));
    CHECK(describe(r.error).find("testing_max_retries") != std::string::npos);
    CHECK(r.task.function == "count.fail");
    CHECK(r.task.args.empty());
  }
  CHECK(*attempts == 100 * 10);  // max_retries counts attempts
  auto s = c.get_stats(sched);
  CHECK(s.failed == 100);
}

TEST_CASE("max_retries 0 fails at once, as gascheduler's execute_do(MFA, 0)",
          "[gascheduler]") {
  cluster c;
  auto opts = c.options(c.nodes(1));
  opts.max_retries = 0;
  auto sched = c.scheduler(opts);
  c.execute(sched, make_task("test.identity", caf::make_message(int32_t{1})));
  auto r = c.results(1).front();
  CHECK(is(r.error, errc::max_retries));
}

TEST_CASE("permanent_failure: no retry, and every node reports it", "[gascheduler]") {
  cluster c;
  auto attempts = std::make_shared<std::atomic<int>>(0);
  c.reg().add("count.permanent", [attempts]() -> int32_t {
    ++*attempts;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    throw permanent_failure("testing_permanent_failure");
  });
  auto sched = c.scheduler(c.options(c.nodes(5)));
  for (int i = 0; i < 100; ++i)
    c.execute(sched, make_task("count.permanent"));
  std::set<std::string> nodes;
  for (auto& r : c.results(100)) {
    CHECK(is(r.error, errc::permanent_failure));
    CHECK(describe(r.error).find("testing_permanent_failure") != std::string::npos);
    nodes.insert(r.node);
  }
  CHECK(*attempts == 100);
  CHECK(nodes == node_set({"n1", "n2", "n3", "n4", "n5"}));
}

TEST_CASE("unfinished: pending in queue order, then running", "[gascheduler]") {
  cluster c;
  auto opts = c.options(c.nodes(2));
  opts.max_workers = 1;
  auto sched = c.scheduler(opts);
  for (int32_t id = 1; id <= 5; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{60000})));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 2; }));
  auto left = c.ask<std::vector<task>>(sched, unfinished_atom::value);
  REQUIRE(left);
  std::vector<int32_t> ids;
  for (auto& t : *left) {
    CHECK(t.function == "test.sleep");
    ids.push_back(t.args.get_as<int32_t>(0));
  }
  CHECK(ids == std::vector<int32_t>{3, 4, 5, 1, 2});
  // stop with work left: an error naming it, and the scheduler ends.
  auto stopped = c.ask<caf::ok_atom>(sched, stop_atom::value);
  REQUIRE_FALSE(stopped);
  CHECK(is(stopped.error(), errc::not_empty));
  CHECK(describe(stopped.error()).find("2 running, 3 pending") != std::string::npos);
  CHECK(c.wait_down(sched) == caf::error{});  // a normal end, in time
}

TEST_CASE("exit_handling: the scheduler stops with its client's exit reason",
          "[gascheduler]") {
  cluster c;
  auto client = c.sys().spawn(
    [](caf::event_based_actor* self, caf::exit_reason reason) -> caf::behavior {
      return {[self, reason](int) { self->quit(reason); }};
    },
    caf::exit_reason::user_shutdown);
  auto opts = c.options(c.nodes(1));
  opts.client = client;
  auto sched = c.scheduler(opts);
  c.self()->monitor(sched);
  c.self()->send(client, 1);
  caf::error reason;
  c.self()->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                    caf::after(10s) >> [] { FAIL("the scheduler did not stop"); });
  CHECK(reason == caf::exit_reason::user_shutdown);
}

TEST_CASE("unnamed scheduler: results carry its id, find_scheduler finds named ones",
          "[gascheduler]") {
  cluster c;
  auto opts = c.options(c.nodes(2));
  opts.name.clear();
  auto sched = c.scheduler(opts);
  c.execute(sched, make_task("hello.world", caf::make_message(int32_t{1})));
  auto r = c.results(1).front();
  CHECK(r.ok());
  CHECK(r.scheduler == "scheduler-" + std::to_string(sched.id()));
  auto named = c.scheduler(c.options(c.nodes(1, "m")));
  CHECK(find_scheduler(c.sys(), "test") == named);
  CHECK_FALSE(find_scheduler(c.sys(), "nobody"));
}

// -- the rest of the contract ----------------------------------------------------

TEST_CASE("a node without a name is named after its host, process and actor",
          "[contract]") {
  cluster c;
  auto node = spawn_node(c.sys(), c.reg(), node_options{});
  auto sched = c.scheduler(c.options({node}));
  c.execute(sched, make_task("test.node_name"));
  auto r = c.results(1).front();
  CHECK(r.node == r.value.get_as<std::string>(0));
  CHECK(r.node.find(":" + std::to_string(getpid()) + "/") != std::string::npos);
  c.self()->send_exit(node, caf::exit_reason::user_shutdown);
}

TEST_CASE("set and get max_workers, and raising it dispatches at once", "[contract]") {
  cluster c;
  auto opts = c.options(c.nodes(2));
  opts.max_workers = 0;
  auto sched = c.scheduler(opts);
  for (int32_t id = 1; id <= 30; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{60000})));
  CHECK(c.ask<uint32_t>(sched, get_max_workers_atom::value) == 0u);
  CHECK(c.get_stats(sched).running == 0);
  REQUIRE(c.ask<caf::ok_atom>(sched, set_max_workers_atom::value, uint32_t{3}));
  CHECK(c.ask<uint32_t>(sched, get_max_workers_atom::value) == 3u);
  auto s = c.get_stats(sched);
  CHECK(s.running == 6);
  CHECK(s.pending == 24);
  // Lowering never stops a running task; it withholds new ones.
  REQUIRE(c.ask<caf::ok_atom>(sched, set_max_workers_atom::value, uint32_t{1}));
  s = c.get_stats(sched);
  CHECK(s.running == 6);
  for (auto& n : s.worker_nodes)
    CHECK(n.slots == 1);
  REQUIRE(c.ask<caf::ok_atom>(sched, set_retry_timeout_atom::value,
                              caf::timespan{std::chrono::milliseconds(5)}));
  auto bad = c.ask<caf::ok_atom>(sched, set_retry_timeout_atom::value,
                                 caf::timespan{std::chrono::milliseconds(-5)});
  CHECK(is(bad.error(), errc::invalid_argument));
}

TEST_CASE("an unknown task name and wrong argument types fail at once, never retried",
          "[contract]") {
  cluster c;
  auto opts = c.options(c.nodes(2));
  opts.retry_timeout = std::chrono::seconds(5);  // a retry would show as a 5 s wait
  auto sched = c.scheduler(opts);
  auto unknown = c.execute(sched, make_task("no.such.function"));
  auto wrong = c.execute(sched, make_task("hello.world", caf::make_message("one")));
  auto missing = c.execute(sched, make_task("hello.world"));
  auto vector = c.execute(
    sched, make_task("hello.world", caf::make_message(std::vector<int32_t>{1, 2})));
  std::map<task_id, task_result> by_id;
  for (auto& r : c.results(4, 2s))
    by_id[r.id] = r;
  CHECK(describe(by_id[vector].error)
        == "gasched::bad_arguments: hello.world expects (int32_t) but got "
           "(std::vector<int32_t>)");
  CHECK(is(by_id[unknown].error, errc::unknown_function));
  CHECK(describe(by_id[unknown].error).find("no.such.function") != std::string::npos);
  CHECK(is(by_id[wrong].error, errc::bad_arguments));
  CHECK(describe(by_id[wrong].error)
        == "gasched::bad_arguments: hello.world expects (int32_t) but got (std::string)");
  CHECK(is(by_id[missing].error, errc::bad_arguments));
  auto empty = c.ask<task_id>(sched, execute_atom::value, make_task(""));
  CHECK(is(empty.error(), errc::invalid_argument));
}

TEST_CASE("two schedulers side by side share nodes, each result goes to its client",
          "[contract]") {
  cluster c;
  auto nodes = c.nodes(2);
  auto first = c.scheduler(c.options(nodes));
  caf::scoped_actor other_client{c.sys()};
  auto opts = c.options(nodes);
  opts.name = "other";
  opts.client = other_client;
  auto second = c.scheduler(opts);
  auto dup = spawn_scheduler(c.sys(), c.options(nodes));
  CHECK(is(dup.error(), errc::name_in_use));
  for (int32_t i = 0; i < 50; ++i) {
    c.execute(first, make_task("hello.world", caf::make_message(i)));
    c.execute(second, make_task("hello.world", caf::make_message(1000 + i)));
  }
  for (auto& r : c.results(50)) {
    CHECK(r.scheduler == "test");
    CHECK(r.value.get_as<int32_t>(0) < 1000);
  }
  int got = 0;
  other_client->receive_for(got, 50)([](task_result& r) {
    CHECK(r.scheduler == "other");
    CHECK(r.value.get_as<int32_t>(0) >= 1000);
  });
  CHECK(c.no_more_results(first));
  CHECK(c.no_more_results(second, other_client.ptr()));
}

TEST_CASE("a task function blocked for 10 s delays neither stats nor other work",
          "[contract]") {
  // One CAF thread: if a task ran on it, nothing else could run.
  cluster c{1};
  c.reg().add("block.10s", [] {
    std::this_thread::sleep_for(std::chrono::seconds(10));  // not interruptible
    return int32_t{0};
  });
  auto sched = c.scheduler(c.options(c.nodes(2)));
  auto blocked = c.execute(sched, make_task("block.10s"));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 1; }, 2s));
  auto started = std::chrono::steady_clock::now();
  for (int32_t i = 0; i < 100; ++i)
    c.execute(sched, make_task("hello.world", caf::make_message(i)));
  for (auto& r : c.results(100, 5s)) {
    CHECK(r.ok());
    CHECK(r.id != blocked);
  }
  // Well inside the 10 s: nothing waited for the blocked function.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  auto s = c.get_stats(sched);
  CHECK(s.running == 1);
  CHECK(s.succeeded == 100);
}

TEST_CASE("spawn_scheduler: nodes that do not answer are left out, and none answering is an error",
          "[contract]") {
  cluster c;
  // An actor that never answers: it leaves everything but stop in its mailbox.
  // (An argument, because CAF 0.17 binds a null reference for a function
  // actor spawned without any, which UBSan reports.)
  auto mute = c.sys().spawn(
    [](caf::blocking_actor* self, int) {
      bool running = true;
      self->receive_while(running)([&](stop_atom) { running = false; });
    },
    0);
  auto opts = c.options({mute});
  opts.node_timeout = std::chrono::milliseconds(200);
  auto none = spawn_scheduler(c.sys(), opts);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), errc::no_nodes_in_cluster));
  CHECK_FALSE(find_scheduler(c.sys(), "test"));  // the name is free again
  opts.nodes.push_back(c.node("alive"));
  auto sched = c.scheduler(opts);
  CHECK(c.get_stats(sched).worker_node_count == 1);
  auto added = c.ask<caf::ok_atom>(sched, add_node_atom::value, mute);
  CHECK(is(added.error(), errc::node_not_found));
  REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, c.node("late")));
  CHECK(c.get_stats(sched).worker_node_count == 2);
  c.self()->send(mute, stop_atom::value);
  auto bad = c.options({});
  bad.retry_backoff = 0.5;
  CHECK(is(spawn_scheduler(c.sys(), bad).error(), errc::invalid_argument));
}

TEST_CASE("node down: its tasks run elsewhere, and with all nodes down new nodes finish them",
          "[gascheduler]") {
  cluster c;
  auto first = c.nodes(10);
  auto sched = c.scheduler(c.options(first));
  for (int32_t id = 1; id <= 100; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{1000})));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 100; }));
  for (auto& n : first)
    c.self()->send_exit(n, caf::exit_reason::kill);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) {
    return s.worker_node_count == 0 && s.pending == 100;
  }));
  auto requeued = c.ask<std::vector<task>>(sched, unfinished_atom::value);
  REQUIRE(requeued);
  REQUIRE(requeued->size() == 100);
  for (auto& n : c.nodes(10, "new"))
    REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, n));
  std::set<int32_t> ids;
  for (auto& r : c.results(100, 20s)) {
    REQUIRE(r.ok());
    CHECK(r.node.rfind("new", 0) == 0);
    ids.insert(r.value.get_as<int32_t>(0));
  }
  CHECK(ids.size() == 100);
  auto s = c.get_stats(sched);
  CHECK(s.requeued == 100);
  CHECK(c.no_more_results(sched));
}

// -- beyond gascheduler ----------------------------------------------------------

TEST_CASE("await: any number of clients get their own result by request",
          "[features]") {
  cluster c;
  auto opts = c.options(c.nodes(2));
  opts.notify_client_of_awaited = false;
  auto sched = c.scheduler(opts);
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int32_t i = 0; i < 4; ++i)
    clients.emplace_back([&, i] {
      caf::scoped_actor self{c.sys()};
      for (int32_t j = 0; j < 25; ++j) {
        auto n = i * 100 + j;
        self->request(sched, 10s, await_atom::value,
                      make_task("hello.world", caf::make_message(n)))
          .receive(
            [&](task_result& r) {
              if (r.ok() && r.value.get_as<int32_t>(0) == n)
                ++good;
            },
            [](caf::error&) {});
      }
    });
  for (auto& t : clients)
    t.join();
  CHECK(good == 100);
  CHECK(c.no_more_results(sched));  // the client was told not to see awaited ones
  // Blocking code without an actor: caf::function_view, typed by the
  // scheduler's interface (the answer is a task_result, not a message).
  auto f = caf::make_function_view(sched, caf::duration{10s});
  auto r = f(await_atom::value, make_task("hello.world", caf::make_message(int32_t{7})));
  REQUIRE(r);
  CHECK(r->value.get_as<int32_t>(0) == 7);
  // Await a task that was executed earlier, by id.
  auto id = c.execute(sched, make_task("test.sleep", caf::make_message(int32_t{9}, int32_t{50})));
  auto later = c.ask<task_result>(sched, await_atom::value, id);
  REQUIRE(later);
  CHECK(later->id == id);
  CHECK(later->value.get_as<int32_t>(0) == 9);
  auto gone = c.ask<task_result>(sched, await_atom::value, id);
  CHECK(is(gone.error(), errc::unknown_task));
}

TEST_CASE("the client sees awaited results too, unless told otherwise", "[features]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(1)));
  auto r = c.ask<task_result>(sched, await_atom::value,
                              make_task("hello.world", caf::make_message(int32_t{3})));
  REQUIRE(r);
  auto seen = c.results(1).front();
  CHECK(seen.id == r->id);
}

TEST_CASE("cancel: pending leaves the queue, running ends at once and sees the request",
          "[features]") {
  cluster c;
  auto started = std::make_shared<std::atomic<bool>>(false);
  auto stopped_early = std::make_shared<std::atomic<bool>>(false);
  c.reg().add("until.cancelled", [started, stopped_early] {
    *started = true;
    while (!this_task::cancelled())
      this_task::sleep_for(std::chrono::seconds(60));
    *stopped_early = true;
    return int32_t{42};  // dropped: the task already ended as cancelled
  });
  auto opts = c.options(c.nodes(1));
  opts.max_workers = 1;
  auto sched = c.scheduler(opts);
  auto running = c.execute(sched, make_task("until.cancelled"));
  auto pending = c.execute(sched, make_task("hello.world", caf::make_message(int32_t{1})));
  REQUIRE(c.wait_for_stats(sched, [&](const stats&) { return started->load(); }));
  REQUIRE(c.ask<caf::ok_atom>(sched, cancel_atom::value, pending));
  auto r = c.results(1).front();
  CHECK(r.id == pending);
  CHECK(is(r.error, errc::cancelled));
  CHECK(r.task.function == "hello.world");
  REQUIRE(c.ask<caf::ok_atom>(sched, cancel_atom::value, running));
  r = c.results(1).front();
  CHECK(r.id == running);
  CHECK(is(r.error, errc::cancelled));
  CHECK(r.node == "n1");
  // The function saw the cancel; what it returned never reaches the client.
  REQUIRE(c.wait_for_stats(sched, [&](const stats&) { return stopped_early->load(); }));
  CHECK(c.no_more_results(sched));
  auto again = c.ask<caf::ok_atom>(sched, cancel_atom::value, running);
  CHECK(is(again.error(), errc::unknown_task));
  auto s = c.get_stats(sched);
  CHECK(s.cancelled == 2);
  CHECK(s.running == 0);
  CHECK(s.pending == 0);
}

TEST_CASE("priorities: higher first, FIFO within a priority", "[features]") {
  cluster c;
  auto opts = c.options({c.node("only", 1)});
  opts.max_workers = 0;  // hold everything in pending, then release one by one
  auto sched = c.scheduler(opts);
  std::vector<std::pair<int32_t, int32_t>> submitted = {
    {1, 0}, {2, 5}, {3, 0}, {4, -1}, {5, 5}, {6, 10}, {7, 0}};
  for (auto [id, prio] : submitted)
    c.execute(sched, make_task("hello.world", caf::make_message(id), prio));
  REQUIRE(c.ask<caf::ok_atom>(sched, set_max_workers_atom::value, uint32_t{1}));
  std::vector<int32_t> order;
  for (auto& r : c.results(7))
    order.push_back(r.value.get_as<int32_t>(0));
  CHECK(order == std::vector<int32_t>{6, 2, 5, 1, 3, 7, 4});
  // The priority travels with the task into its result.
  c.execute(sched, make_task("hello.world", caf::make_message(int32_t{8}), 3));
  CHECK(c.results(1).front().task.priority == 3);
}

TEST_CASE("bounded queue: execute beyond max_pending is refused, nothing lost",
          "[features]") {
  cluster c;
  auto opts = c.options(c.nodes(1));
  opts.max_workers = 0;
  opts.max_pending = 5;
  auto sched = c.scheduler(opts);
  for (int32_t i = 0; i < 5; ++i)
    c.execute(sched, make_task("hello.world", caf::make_message(i)));
  auto refused = c.ask<task_id>(sched, execute_atom::value,
                                make_task("hello.world", caf::make_message(int32_t{5})));
  CHECK(is(refused.error(), errc::queue_full));
  auto awaited = c.ask<task_result>(sched, await_atom::value,
                                    make_task("hello.world", caf::make_message(int32_t{5})));
  CHECK(is(awaited.error(), errc::queue_full));
  auto batch = c.ask<std::vector<task_id>>(
    sched, execute_atom::value,
    std::vector<task>{make_task("hello.world", caf::make_message(int32_t{6}))});
  CHECK(is(batch.error(), errc::queue_full));
  auto s = c.get_stats(sched);
  CHECK(s.max_pending == 5);
  CHECK(s.pending == 5);
  REQUIRE(c.ask<caf::ok_atom>(sched, set_max_workers_atom::value, uint32_t{10}));
  std::set<int32_t> values;
  for (auto& r : c.results(5))
    values.insert(r.value.get_as<int32_t>(0));
  CHECK(values == std::set<int32_t>{0, 1, 2, 3, 4});
}

TEST_CASE("per-node slots: least loaded relative to each node's slots", "[features]") {
  cluster c;
  auto small = c.node("small", 2);
  auto big = c.node("big", 8);
  auto huge = c.node("huge", 50);  // capped by max_workers
  auto sched = c.scheduler(c.options({small, big, huge}));
  for (int32_t id = 1; id <= 40; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{60000})));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 20; }));
  std::map<std::string, node_load> load;
  for (auto& n : c.get_stats(sched).worker_nodes)
    load[n.node] = n;
  CHECK(load["small"].slots == 2);
  CHECK(load["small"].running == 2);
  CHECK(load["big"].slots == 8);
  CHECK(load["big"].running == 8);
  CHECK(load["huge"].slots == 10);
  CHECK(load["huge"].running == 10);
}

TEST_CASE("retry backoff: the pause grows from retry_timeout and is capped",
          "[features]") {
  cluster c;
  struct log {
    std::mutex mtx;
    std::vector<std::chrono::steady_clock::time_point> at;
  };
  auto attempts = std::make_shared<log>();
  c.reg().add("fail.four", [attempts] {
    std::lock_guard<std::mutex> guard{attempts->mtx};
    attempts->at.push_back(std::chrono::steady_clock::now());
    if (this_task::attempt() <= 4)
      throw std::runtime_error("not yet");
    return static_cast<int32_t>(this_task::attempt());
  });
  auto opts = c.options(c.nodes(1));
  opts.retry_timeout = std::chrono::milliseconds(40);
  opts.retry_backoff = 2.0;
  opts.retry_backoff_max = std::chrono::milliseconds(100);
  auto sched = c.scheduler(opts);
  c.execute(sched, make_task("fail.four"));
  auto r = c.results(1).front();
  REQUIRE(r.ok());
  CHECK(r.value.get_as<int32_t>(0) == 5);
  REQUIRE(attempts->at.size() == 5);
  using ms = std::chrono::milliseconds;
  auto gap = [&](size_t i) {
    return std::chrono::duration_cast<ms>(attempts->at[i] - attempts->at[i - 1]);
  };
  // Pauses of at least 40, 80, then 100 (capped) and 100 ms.
  CHECK(gap(1) >= ms(40));
  CHECK(gap(2) >= ms(80));
  CHECK(gap(3) >= ms(100));
  CHECK(gap(4) >= ms(100));
  CHECK(gap(4) < ms(160 + 100));  // capped, not 320
}

TEST_CASE("quarantine: a task whose nodes keep dying ends with node_failures",
          "[features]") {
  cluster c;
  // The poison task reports where it runs; the test then kills that node,
  // as a real poison task would kill its process.
  struct where {
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<std::string> nodes;
  };
  auto seen = std::make_shared<where>();
  c.reg().add("poison", [seen] {
    {
      std::lock_guard<std::mutex> guard{seen->mtx};
      seen->nodes.push_back(this_task::node_name());
    }
    seen->cv.notify_all();
    this_task::sleep_for(std::chrono::seconds(60));
    return int32_t{0};
  });
  std::map<std::string, caf::actor> by_name;
  std::vector<caf::actor> nodes;
  for (int i = 1; i <= 4; ++i) {
    auto name = "n" + std::to_string(i);
    nodes.push_back(c.node(name));
    by_name[name] = nodes.back();
  }
  auto opts = c.options(nodes);
  opts.max_node_failures = 3;
  auto sched = c.scheduler(opts);
  auto id = c.execute(sched, make_task("poison"));
  for (size_t death = 1; death <= 3; ++death) {
    std::unique_lock<std::mutex> guard{seen->mtx};
    REQUIRE(seen->cv.wait_for(guard, 10s, [&] { return seen->nodes.size() >= death; }));
    c.self()->send_exit(by_name[seen->nodes[death - 1]], caf::exit_reason::kill);
  }
  auto r = c.results(1).front();
  CHECK(r.id == id);
  CHECK(is(r.error, errc::node_failures));
  auto s = c.get_stats(sched);
  CHECK(s.quarantined == 1);
  CHECK(s.requeued == 2);
  CHECK(s.worker_node_count == 1);
  std::set<std::string> distinct(seen->nodes.begin(), seen->nodes.end());
  CHECK(distinct.size() == 3);
}

TEST_CASE("prefetch: a node holds more tasks than it runs, never runs more than its slots",
          "[features]") {
  cluster c;
  struct load {
    std::mutex mtx;
    int now = 0, peak = 0;
  };
  auto l = std::make_shared<load>();
  c.reg().add("count.concurrent", [l](int32_t id) {
    {
      std::lock_guard<std::mutex> guard{l->mtx};
      l->peak = std::max(l->peak, ++l->now);
    }
    this_task::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> guard{l->mtx};
    --l->now;
    return id;
  });
  auto opts = c.options({c.node("only", 3)});
  opts.prefetch = 2;  // 3 slots hold 3 x (1 + 2) = 9
  auto sched = c.scheduler(opts);
  for (int32_t id = 1; id <= 30; ++id)
    c.execute(sched, make_task("count.concurrent", caf::make_message(id)));
  auto s = c.get_stats(sched);
  CHECK(s.prefetch == 2);
  CHECK(s.running == 9);
  CHECK(s.pending == 21);
  REQUIRE(s.worker_nodes.size() == 1);
  CHECK(s.worker_nodes[0].slots == 3);
  std::set<int32_t> ids;
  for (auto& r : c.results(30))
    ids.insert(r.value.get_as<int32_t>(0));
  CHECK(ids.size() == 30);
  CHECK(l->peak <= 3);
  CHECK(l->peak >= 2);
}

TEST_CASE("init: CAF's threads sleep while idle unless the application chose a policy",
          "[features]") {
  // In an idle second a polling thread is switched out 100 times, a
  // sleeping one not at all. CAF's timer and I/O threads wake for the
  // middleman's heartbeat (5 times a second, 3 switches each): the bound.
  constexpr auto idle = 1000ms;
  constexpr uint64_t sleeping = 40;
  SECTION("by default: sharing, whose idle threads wait for work without polling") {
    caf::actor_system_config cfg;
    REQUIRE(!init(cfg));
    cfg.set("scheduler.max-threads", size_t{2});  // more than one thread that could poll
    CHECK(busiest_idle_thread(cfg, idle) < sleeping);
  }
  SECTION("set before init: kept") {
    caf::actor_system_config cfg;
    cfg.set("scheduler.policy", caf::atom("stealing"));
    REQUIRE(!init(cfg));
    CHECK(busiest_idle_thread(cfg, idle) > 3 * sleeping / 2);
  }
  SECTION("on the command line: wins") {
    caf::actor_system_config cfg;
    REQUIRE(!init(cfg));
    REQUIRE(!cfg.parse(std::vector<std::string>{"--caf#scheduler.policy=stealing"}));
    CHECK(busiest_idle_thread(cfg, idle) > 3 * sleeping / 2);
  }
}

TEST_CASE("notify_client_of_changes: the client hears of nodes coming and going, once until "
          "it asks for stats, and only when it asked to",
          "[features]") {
  cluster c;
  // changed_atom messages in the client's mailbox once `sched` answered a
  // request sent after them: all it sent before. (unfinished is not a look
  // at stats, which would let it tell again.)
  auto changes = [&](const gasched::scheduler_actor& sched) {
    REQUIRE(c.ask<std::vector<task>>(sched, unfinished_atom::value));
    int n = 0;
    for (bool more = true; more;)
      c.self()->receive([&](changed_atom) { ++n; },
                        caf::after(caf::timespan{0}) >> [&] { more = false; });
    return n;
  };
  auto opts = c.options({});
  opts.notify_client_of_changes = true;
  auto sched = c.scheduler(opts);
  auto nodes = c.nodes(2, "n");
  // add_node answers once the node is in, after telling the client.
  REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, nodes[0]));
  REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, nodes[1]));
  CHECK(changes(sched) == 1);  // two joins, one message: the client has not looked yet
  CHECK(c.get_stats(sched).worker_node_count == 2);
  c.self()->send_exit(nodes[1], caf::exit_reason::kill);
  bool told = false;  // the loss comes when the scheduler sees the node's end
  c.self()->receive([&](changed_atom) { told = true; }, caf::after(10s) >> [] {});
  CHECK(told);  // it looked since: told again
  CHECK(changes(sched) == 0);  // once
  CHECK(c.get_stats(sched).worker_node_count == 1);
  // Without the option the client gets results only, as in gascheduler.
  auto plain_opts = c.options({});
  plain_opts.name = "plain";
  auto plain = c.scheduler(plain_opts);
  REQUIRE(c.ask<caf::ok_atom>(plain, add_node_atom::value, c.nodes(1, "p")[0]));
  CHECK(changes(plain) == 0);
}

namespace {

size_t resident_bytes() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr || std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
    FAIL("cannot read /proc/self/statm");
  std::fclose(f);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

} // namespace

// 100,000 pending tasks of 2 KB each take 200 MB; this test keeps every
// 64th task's arguments, so the freed ones lie between live blocks and the
// heap cannot shrink from its top by itself: only a trim hands them back.
TEST_CASE("an idle scheduler hands back the memory a burst of 100,000 tasks used",
          "[features]") {
  cluster c;
  c.reg().add("test.length", [](const std::string& s) { return static_cast<int32_t>(s.size()); });
  auto opts = c.options(c.nodes(1));
  opts.client = caf::actor{};  // results go nowhere: only the scheduler holds them
  opts.max_workers = 0;        // all pending first: the burst's peak
  opts.prefetch = 10;
  auto sched = c.scheduler(opts);
  constexpr size_t n = 100000;
  auto before = resident_bytes();
  std::vector<caf::message> kept;
  for (size_t done = 0; done < n; done += 10000) {
    std::vector<task> ts;
    for (size_t i = done; i < done + 10000; ++i) {
      auto args = caf::make_message(std::string(2000, static_cast<char>('a' + i % 26)));
      if (i % 64 == 0)
        kept.push_back(args);
      ts.push_back(task{"test.length", std::move(args)});
    }
    REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(ts)));
  }
  auto peak = resident_bytes();
  REQUIRE(peak > before + 150'000'000);  // the burst did take memory
  REQUIRE(c.ask<caf::ok_atom>(sched, set_max_workers_atom::value, uint32_t{10}));
  // The trim runs with the last result, before the scheduler answers stats.
  REQUIRE(c.wait_for_stats(
    sched, [](const stats& s) { return s.succeeded == n && s.pending == 0 && s.running == 0; },
    60s));
  auto after = resident_bytes();
  INFO("resident: " << before / 1000000 << " MB before, " << peak / 1000000 << " MB at the peak, "
                    << after / 1000000 << " MB once idle");
#ifndef __SANITIZE_ADDRESS__
  CHECK(after < before + (peak - before) / 4);
#else
  // AddressSanitizer's allocator keeps freed memory in quarantine, and glibc's
  // trim does not reach it: resident size says nothing here.
  WARN("resident memory is not compared under AddressSanitizer");
#endif
}
