// gasched on a real network: node processes on 127.0.0.1 reach their
// scheduler through a fault-injecting TCP proxy, which cuts the link (every
// socket kept open, nothing flows), delays it or closes it. Each test checks
// that every task ends exactly once, who ran it, and that every node that
// survived is back at work.
//
// The sleeps here are the faults' durations, not synchronisation: what
// follows a fault is awaited by condition, with a bound.
#include "cluster_support.hpp"
#include "tcp_proxy.hpp"

#include <memory>
#include <set>

using namespace gasched;
using namespace gasched::testing;

namespace {

using clock_type = std::chrono::steady_clock;

// A scheduler in this process, published on 127.0.0.1, and node processes
// that join it, each through a proxy of its own or directly.
struct network_fixture {
  process_cluster c;
  gasched::scheduler_actor sched;
  uint16_t port = 0;
  std::map<std::string, std::unique_ptr<tcp_proxy>> proxies;

  network_fixture() {
    sched = c.scheduler(c.options({}));
    auto p = publish(c.sys(), sched, 0);
    REQUIRE(p);
    port = *p;
  }

  void join_through_proxy(const std::string& name) {
    auto& proxy = proxies[name] = std::make_unique<tcp_proxy>(port);
    c.start_joining_node(name, proxy->port());
  }

  void join_directly(const std::string& name) {
    c.start_joining_node(name, port);
  }

  tcp_proxy& proxy(const std::string& name) {
    return *proxies.at(name);
  }

  bool wait_nodes(uint32_t n, caf::timespan timeout = std::chrono::seconds(15)) {
    return c.wait_for_stats(sched, [n](const stats& s) { return s.worker_node_count == n; },
                            timeout);
  }

  // `n` tasks test.sleep(id, ms), ids first_id.., submitted at once.
  void submit(int32_t first_id, int32_t n, int32_t ms) {
    std::vector<task> batch;
    for (int32_t id = first_id; id < first_id + n; ++id)
      batch.push_back(make_task("test.sleep", caf::make_message(id, ms)));
    REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(batch)));
  }

  // The results of `n` tasks: each succeeded, each id exactly once, and
  // none but a marker task's comes after them.
  result_summary collect(size_t n, caf::timespan timeout = std::chrono::seconds(60)) {
    result_summary got{c.results(n, timeout)};
    CHECK(got.each_id_once());
    std::set<int32_t> values;
    for (auto& r : got.all) {
      CHECK(r.ok());
      CHECK(!r.node.empty());
      values.insert(r.value.get_as<int32_t>(0));
    }
    CHECK(values.size() == n);
    CHECK(c.no_more_results(sched));
    return got;
  }

  // Tasks that take long enough to show who runs them, until `name` has run
  // one: proof that it is back at work.
  void check_at_work(const std::string& name, int32_t first_id) {
    submit(first_id, 100, 20);
    auto got = collect(100);
    INFO("after the fault, " << name << " ran " << got.count_by_node[name] << " of 100");
    CHECK(got.count_by_node[name] > 0);
  }

  bool someone_runs_on(const std::string& name) {
    return c.wait_for_stats(sched, [&](const stats& s) {
      for (auto& n : s.worker_nodes)
        if (n.node == name && n.running > 0)
          return true;
      return false;
    });
  }
};

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

} // namespace

TEST_CASE("network: a node cut off for 3 s is declared down, rejoins once healed, and works again",
          "[cluster][network]") {
  network_fixture f;
  f.join_through_proxy("cut");
  f.join_directly("steady");
  REQUIRE(f.wait_nodes(2));
  f.submit(1, 300, 30);
  REQUIRE(f.someone_runs_on("cut"));
  auto cut_at = clock_type::now();
  f.proxy("cut").blackhole();
  REQUIRE(f.c.wait_for_stats(f.sched, [](const stats& s) { return s.node_losses == 1; }));
  INFO("declared down " << ms_since(cut_at) << " ms after the cut");
  std::this_thread::sleep_until(cut_at + std::chrono::seconds(3));
  auto healed_at = clock_type::now();
  f.proxy("cut").pass();
  REQUIRE(f.wait_nodes(2));
  INFO("back " << ms_since(healed_at) << " ms after the heal");
  auto got = f.collect(300);
  CHECK(got.count_by_node["steady"] > 0);
  auto s = f.c.get_stats(f.sched);
  CHECK(s.node_rejoins == 1);
  CHECK(s.requeued >= 1);
  REQUIRE(s.node_events.size() >= 3);
  CHECK(s.node_events.back().node == "cut");
  CHECK(s.node_events.back().kind == node_event::rejoined);
  f.check_at_work("cut", 1001);
}

TEST_CASE("network: a 0.8 s cut loses and duplicates nothing, and the node works afterwards",
          "[cluster][network]") {
  network_fixture f;
  f.join_through_proxy("flicker");
  f.join_directly("steady");
  REQUIRE(f.wait_nodes(2));
  f.submit(1, 300, 30);
  REQUIRE(f.someone_runs_on("flicker"));
  f.proxy("flicker").blackhole();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  f.proxy("flicker").pass();
  f.collect(300);
  // Declared down or not (the heartbeat timeout is 1 s), it is back at work.
  REQUIRE(f.wait_nodes(2));
  f.check_at_work("flicker", 1001);
}

TEST_CASE("network: a node stopped for 4 s (kill -STOP) rejoins after kill -CONT",
          "[cluster][network]") {
  network_fixture f;
  f.join_directly("paused");
  f.join_directly("steady");
  REQUIRE(f.wait_nodes(2));
  f.submit(1, 300, 30);
  REQUIRE(f.someone_runs_on("paused"));
  auto stopped_at = clock_type::now();
  f.c.signal("paused", SIGSTOP);
  REQUIRE(f.wait_nodes(1));
  std::this_thread::sleep_until(stopped_at + std::chrono::seconds(4));
  auto resumed_at = clock_type::now();
  f.c.signal("paused", SIGCONT);
  REQUIRE(f.wait_nodes(2));
  INFO("back " << ms_since(resumed_at) << " ms after kill -CONT");
  f.collect(300);
  CHECK(f.c.get_stats(f.sched).node_rejoins == 1);
  f.check_at_work("paused", 1001);
}

TEST_CASE("network: a 1.5 s delay spike costs no result, and the node works afterwards",
          "[cluster][network]") {
  network_fixture f;
  f.join_through_proxy("slow");
  f.join_directly("steady");
  REQUIRE(f.wait_nodes(2));
  f.submit(1, 300, 30);
  REQUIRE(f.someone_runs_on("slow"));
  f.proxy("slow").delay(std::chrono::milliseconds(1500));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  f.proxy("slow").pass();
  f.collect(300);
  REQUIRE(f.wait_nodes(2));
  f.check_at_work("slow", 1001);
}

TEST_CASE("network: 35 % of chunks held back 400 ms for 3 s costs no result, and the node works",
          "[cluster][network]") {
  network_fixture f;
  f.join_through_proxy("lossy");
  f.join_directly("steady");
  REQUIRE(f.wait_nodes(2));
  f.submit(1, 300, 30);
  REQUIRE(f.someone_runs_on("lossy"));
  // Packet loss as TCP turns it into stalls: a retransmission each.
  f.proxy("lossy").lossy(0.35, std::chrono::milliseconds(400));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  f.proxy("lossy").pass();
  f.collect(300);
  REQUIRE(f.wait_nodes(2));
  f.check_at_work("lossy", 1001);
}

TEST_CASE("network: the scheduler cut from every node for 3 s, then every task exactly once",
          "[cluster][network]") {
  network_fixture f;
  for (auto name : {"a", "b", "c"})
    f.join_through_proxy(name);
  REQUIRE(f.wait_nodes(3));
  f.submit(1, 600, 30);
  REQUIRE(f.c.wait_for_stats(f.sched, [](const stats& s) { return s.running >= 20; }));
  auto cut_at = clock_type::now();
  for (auto& [name, proxy] : f.proxies)
    proxy->blackhole();
  REQUIRE(f.wait_nodes(0));
  std::this_thread::sleep_until(cut_at + std::chrono::seconds(3));
  for (auto& [name, proxy] : f.proxies)
    proxy->pass();
  auto got = f.collect(600);
  REQUIRE(f.wait_nodes(3));
  auto s = f.c.get_stats(f.sched);
  CHECK(s.node_losses == 3);
  CHECK(s.node_rejoins == 3);
  for (auto name : {"a", "b", "c"})
    f.check_at_work(name, 1001);
}

TEST_CASE("network: a closed connection is rejoined at once", "[cluster][network]") {
  network_fixture f;
  f.join_through_proxy("reset");
  REQUIRE(f.wait_nodes(1));
  f.submit(1, 100, 30);
  REQUIRE(f.someone_runs_on("reset"));
  f.proxy("reset").close_all();
  auto got = f.collect(100);
  CHECK(got.count_by_node["reset"] > 0);
  CHECK(f.c.get_stats(f.sched).node_losses == 1);
  REQUIRE(f.wait_nodes(1));
}

TEST_CASE("network: a node handed by address is reconnected by the scheduler after a cut",
          "[cluster][network]") {
  process_cluster c;
  // Published; this process reaches it only through the proxy.
  tcp_proxy proxy{c.start_published_node("handed1")};
  auto node = connect(c.sys(), "127.0.0.1", proxy.port());
  REQUIRE(node);
  auto sched = c.scheduler(c.options({*node}));
  c.execute(sched, make_task("test.node_name"));
  CHECK(c.results(1).front().node == "handed1");
  auto cut_at = clock_type::now();
  proxy.blackhole();
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 0; }));
  std::this_thread::sleep_until(cut_at + std::chrono::seconds(3));
  proxy.pass();
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; },
                           std::chrono::seconds(15)));
  for (int32_t id = 1; id <= 20; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{10})));
  result_summary got{c.results(20, std::chrono::seconds(30))};
  CHECK(got.each_id_once());
  CHECK(got.count_by_node["handed1"] == 20);
  auto s = c.get_stats(sched);
  CHECK(s.node_losses == 1);
  CHECK(s.node_rejoins == 1);
}
