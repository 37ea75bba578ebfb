// gasched across processes: gascheduler's eunit suite with its sizes, run
// against real gasched-node processes on 127.0.0.1 that are killed for real.
#include "cluster_support.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace gasched;
using namespace gasched::testing;

namespace {

std::vector<task_result> run_identity_batch(process_cluster& c,
                                           const gasched::scheduler_actor& sched,
                                           int32_t n, int32_t sleep_ms) {
  for (int32_t id = 1; id <= n; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, sleep_ms)));
  return c.results(static_cast<size_t>(n), 30s);
}

} // namespace

TEST_CASE("cluster execute_tasks: 2 node processes, 25 tasks, every node used, stats",
          "[cluster][gascheduler]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(2)));
  result_summary got{run_identity_batch(c, sched, 25, 100)};
  CHECK(got.count_by_id.size() == 25);
  CHECK(got.each_id_once());
  for (auto& r : got.all) {
    REQUIRE(r.ok());
    CHECK(r.value.get_as<int32_t>(0) == r.task.args.get_as<int32_t>(0));
  }
  CHECK(got.count_by_node.size() == 2);
  check_idle_stats(c.get_stats(sched), 25, {"node1", "node2"});
  CHECK(c.ask<caf::ok_atom>(sched, stop_atom::value));
}

TEST_CASE("cluster max_workers: 10 node processes, 5,000 tasks, bound held at every start",
          "[cluster][gascheduler]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(10)));
  std::vector<task> batch;
  for (int32_t i = 0; i < 5000; ++i)
    batch.push_back(make_task("test.concurrent", caf::make_message(int32_t{2})));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(batch)));
  int32_t peak = 0;
  result_summary got{c.results(5000, 60s)};
  for (auto& r : got.all) {
    REQUIRE(r.ok());
    peak = std::max(peak, r.value.get_as<int32_t>(0));  // tasks running on its node
  }
  CHECK(peak <= 10);
  CHECK(got.count_by_node.size() == 10);
  CHECK(got.each_id_once());
}

TEST_CASE("cluster max_retries: 10 nodes, 100 failing tasks, 100 max_retries errors",
          "[cluster][gascheduler]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(10)));
  for (int i = 0; i < 100; ++i)
    c.execute(sched, make_task("test.fail"));
  result_summary got{c.results(100, 30s)};
  for (auto& r : got.all) {
    CHECK(is(r.error, errc::max_retries));
    CHECK(r.task.function == "test.fail");
  }
  CHECK(got.each_id_once());
}

TEST_CASE("cluster permanent_failure: 5 nodes, every node reports it", "[cluster][gascheduler]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(5)));
  // One batch: the scheduler spreads it over every node at once. Sent one at
  // a time, each failure can come back before the next task arrives, and the
  // least loaded node (ties to the lowest index) is then the same one.
  std::vector<task> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back(make_task("test.permanent"));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(batch)));
  result_summary got{c.results(100, 30s)};
  for (auto& r : got.all)
    CHECK(is(r.error, errc::permanent_failure));
  CHECK(got.count_by_node.size() == 5);
}

TEST_CASE("cluster all_nodes_down: 10 nodes killed with 100 tasks, 10 new nodes finish them",
          "[cluster][gascheduler]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(10, "old")));
  for (int32_t id = 1; id <= 100; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{1000})));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 100; }));
  for (int i = 1; i <= 10; ++i)
    c.kill("old" + std::to_string(i));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) {
    return s.worker_node_count == 0 && s.pending == 100;
  }));
  for (auto& n : c.start_nodes(10, "new"))
    REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, n));
  result_summary got{c.results(100, 30s)};
  CHECK(got.each_id_once());
  std::set<int32_t> ids;
  for (auto& r : got.all) {
    REQUIRE(r.ok());
    CHECK(r.node.rfind("new", 0) == 0);
    ids.insert(r.value.get_as<int32_t>(0));
  }
  CHECK(ids.size() == 100);
  CHECK(c.get_stats(sched).requeued == 100);
  CHECK(c.no_more_results(sched));
}

TEST_CASE("cluster node_down: a task that kills node1, then 100 successes, none from node1",
          "[cluster][gascheduler]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(3)));
  for (int i = 0; i < 100; ++i)
    c.execute(sched, make_task("test.kill_if", caf::make_message(std::string{"node1"})));
  result_summary got{c.results(100, 30s)};
  CHECK(got.each_id_once());
  for (auto& r : got.all) {
    REQUIRE(r.ok());
    CHECK(r.node != "node1");
  }
  auto s = c.get_stats(sched);
  CHECK(s.worker_node_count == 2);
  CHECK(s.requeued >= 1);
}

TEST_CASE("cluster unfinished, exit_handling and an unnamed scheduler", "[cluster][gascheduler]") {
  process_cluster c;
  auto nodes = c.start_nodes(2);
  SECTION("unfinished lists pending in order, then running") {
    auto opts = c.options(nodes);
    opts.max_workers = 1;
    auto sched = c.scheduler(opts);
    for (int32_t id = 1; id <= 5; ++id)
      c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{60000})));
    REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 2; }));
    auto left = c.ask<std::vector<task>>(sched, unfinished_atom::value);
    REQUIRE(left);
    std::vector<int32_t> ids;
    for (auto& t : *left)
      ids.push_back(t.args.get_as<int32_t>(0));
    CHECK(ids == std::vector<int32_t>{3, 4, 5, 1, 2});
  }
  SECTION("the scheduler stops with its client's exit reason") {
    auto client = c.sys().spawn(
      [](caf::event_based_actor* self, caf::exit_reason reason) -> caf::behavior {
        return {[self, reason](int) { self->quit(reason); }};
      },
      caf::exit_reason::user_shutdown);
    auto opts = c.options(nodes);
    opts.client = client;
    auto sched = c.scheduler(opts);
    c.self()->monitor(sched);
    c.self()->send(client, 1);
    caf::error reason;
    c.self()->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                      caf::after(10s) >> [] { FAIL("the scheduler did not stop"); });
    CHECK(reason == caf::exit_reason::user_shutdown);
  }
  SECTION("an unnamed scheduler") {
    auto opts = c.options(nodes);
    opts.name.clear();
    auto sched = c.scheduler(opts);
    c.execute(sched, make_task("hello.world", caf::make_message(int32_t{5})));
    auto r = c.results(1).front();
    CHECK(r.ok());
    CHECK(r.scheduler == "scheduler-" + std::to_string(sched.id()));
  }
}

TEST_CASE("cluster: a stopped node (kill -STOP) is declared down by heartbeats, and after "
          "kill -CONT its results are not delivered twice",
          "[cluster][failover]") {
  process_cluster c;
  auto sched = c.scheduler(c.options(c.start_nodes(2)));
  for (int32_t id = 1; id <= 20; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{500})));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 20; }));
  auto stopped_at = std::chrono::steady_clock::now();
  c.signal("node1", SIGSTOP);
  // Declared down by the heartbeat timeout (1 s by default), not by a socket error.
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; },
                           10s));
  auto detected = std::chrono::steady_clock::now() - stopped_at;
  INFO("declared down after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(detected).count() << " ms");
  CHECK(detected < std::chrono::seconds(3));
  result_summary got{c.results(20, 30s)};
  CHECK(got.each_id_once());
  for (auto& r : got.all) {
    REQUIRE(r.ok());
    CHECK(r.node == "node2");
  }
  c.signal("node1", SIGCONT);
  // node1 comes back and runs tasks again: whatever it still had to say of
  // its old tasks it said before the results of these.
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) {
    return s.node_rejoins == 1 && s.worker_node_count == 2;
  }, 15s));
  result_summary again{run_identity_batch(c, sched, 20, 100)};
  CHECK(again.count_by_node.count("node1") == 1);
  // None of node1's old tasks reached the client a second time.
  CHECK(c.no_more_results(sched));
  CHECK(c.get_stats(sched).succeeded == 41);  // and the marker
}

TEST_CASE("cluster: nodes join a published scheduler, die, and join again",
          "[cluster][join]") {
  process_cluster c;
  auto opts = c.options({});
  auto sched = c.scheduler(opts);
  auto port = c.publish_with_joined_nodes(sched, {"j1", "j2"});
  result_summary first{run_identity_batch(c, sched, 20, 50)};
  CHECK(first.count_by_node.size() == 2);
  c.kill("j1");
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; }));
  c.start_joining_node("j1", port);  // a new process under the same name
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 2; }));
  result_summary second{run_identity_batch(c, sched, 20, 50)};
  CHECK(second.count_by_node.count("j1") == 1);
  CHECK(second.count_by_node.count("j2") == 1);
}

TEST_CASE("cluster: a joined node rejoins a scheduler that comes back on its port",
          "[cluster][join]") {
  process_cluster c;
  auto first = c.scheduler(c.options({}));
  auto port = c.publish_with_joined_nodes(first, {"j1"});
  REQUIRE(c.ask<caf::ok_atom>(first, stop_atom::value));
  REQUIRE(c.wait_down(first) == caf::error{});  // a normal end, in time
  c.sys().middleman().close(port);
  auto opts = c.options({});
  opts.name = "second";
  auto second = c.scheduler(opts);
  REQUIRE(publish(c.sys(), second, port));
  REQUIRE(c.wait_for_stats(second, [](const stats& s) { return s.worker_node_count == 1; },
                           15s));
  c.execute(second, make_task("test.node_name"));
  auto r = c.results(1).front();
  CHECK(r.node == "j1");
  CHECK(r.value.get_as<std::string>(0) == "j1");
}

TEST_CASE("cluster: a function one node lacks gives unknown_function, not a hang",
          "[cluster]") {
  process_cluster c;
  auto full = c.start_nodes(1, "full");
  auto lacking = c.start_nodes(1, "lacking", {"--exclude", "test.identity"});
  auto sched = c.scheduler(c.options({full[0], lacking[0]}));
  for (int32_t i = 0; i < 40; ++i)
    c.execute(sched, make_task("test.identity", caf::make_message(i)));
  result_summary got{c.results(40, 10s)};
  int unknown = 0;
  for (auto& r : got.all) {
    if (r.node == "lacking1") {
      CHECK(is(r.error, errc::unknown_function));
      ++unknown;
    } else {
      CHECK(r.ok());
    }
  }
  CHECK(unknown > 0);
}

TEST_CASE("cluster: a port in use gives a clear error", "[cluster]") {
  process_cluster c;
  c.start_nodes(1);
  auto taken = c.at("node1").port;
  auto sched = c.scheduler(c.options({}));
  auto result = publish(c.sys(), sched, taken);
  REQUIRE_FALSE(result);
  CHECK(is(result.error(), errc::network_error));
  CHECK(describe(result.error()).find("127.0.0.1:" + std::to_string(taken))
        != std::string::npos);
  // gasched-node says the same and exits non-zero.
  auto log = std::filesystem::temp_directory_path()
             / ("gasched-port-in-use-" + std::to_string(::getpid()) + ".txt");
  auto again = tools::child_process::start_logged(
    {GASCHED_NODE_PROGRAM, "--port", std::to_string(taken)}, log.string());
  auto status = again.wait_exit(10s);
  std::stringstream err;
  err << std::ifstream{log}.rdbuf();
  std::filesystem::remove(log);
  INFO("gasched-node's stderr: " << err.str());
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  CHECK_THAT(err.str(), Catch::Contains("127.0.0.1:" + std::to_string(taken)));
}

TEST_CASE("cluster quarantine: a task that kills every node it lands on ends with "
          "node_failures",
          "[cluster][features]") {
  process_cluster c;
  auto opts = c.options(c.start_nodes(4));
  opts.max_node_failures = 3;
  auto sched = c.scheduler(opts);
  c.execute(sched, make_task("test.die"));  // kills its node process, every time
  auto r = c.results(1, 30s).front();
  CHECK(is(r.error, errc::node_failures));
  auto s = c.get_stats(sched);
  CHECK(s.quarantined == 1);
  CHECK(s.requeued == 2);
  CHECK(s.worker_node_count == 1);  // three died; the fourth never saw the task
}

TEST_CASE("parse_address takes HOST:PORT and refuses what is not one", "[cluster][address]") {
  auto a = gasched::parse_address("10.0.0.7:7000");
  REQUIRE(a);
  CHECK(a->host == "10.0.0.7");
  CHECK(a->port == 7000);
  CHECK(gasched::parse_address("::1:7000")->host == "::1");  // the last colon splits
  CHECK(gasched::parse_address("7000", "127.0.0.1")->host == "127.0.0.1");
  CHECK(gasched::parse_address("h:0", "", 0)->port == 0);
  for (auto bad : {"7000", "h:", ":7000", "h:0", "h:65536", "h:70000", "h:12x", "h:-1",
                   "h:+80", "h:123456", ""})
    CHECK_FALSE(gasched::parse_address(bad));
}
