// The HTTP endpoint against runs whose figures are known: in-process
// scheduler and nodes, real HTTP requests, /metrics read by Prometheus's own
// parser (python3-prometheus-client).
#include <fstream>
#include <map>
#include <set>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "http/metrics_writer.hpp"
#include "http_endpoint_support.hpp"

using namespace gasched;
using namespace gasched::testing;
using json = nlohmann::json;

namespace {

// Runs `succeed` hello.world tasks and `fail` test.permanent tasks to their end.
void run_tasks(cluster& c, const gasched::scheduler_actor& sched, int succeed, int fail) {
  for (int32_t i = 0; i < succeed; ++i)
    c.execute(sched, make_task("hello.world", caf::make_message(i)));
  for (int i = 0; i < fail; ++i)
    c.execute(sched, make_task("test.permanent"));
  c.results(static_cast<size_t>(succeed + fail));
}

json get_json(const http_server& srv, const std::string& path, int status = 200) {
  auto r = http_get(srv, path);
  CHECK(r.status == status);
  CHECK(r.content_type == "application/json");
  return json::parse(r.body);
}

} // namespace

TEST_CASE("the JSON endpoints show the figures of a finished run", "[http]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(2)));
  run_tasks(c, sched, 20, 3);
  auto srv = serve(c, sched);
  auto before = std::chrono::system_clock::now();
  auto s = get_json(srv, "/api/stats");
  CHECK(s["succeeded"] == 20);
  CHECK(s["failed"] == 3);
  CHECK(s["submitted"] == 23);
  CHECK(s["finished"] == 23);
  CHECK(s["pending"] == 0);
  CHECK(s["running"] == 0);
  CHECK(s["cancelled"] == 0);
  CHECK(s["requeued"] == 0);
  CHECK(s["reclaimed"] == 0);
  CHECK(s["ticks"] == 23);
  CHECK(s["worker_node_count"] == 2);
  CHECK(s["slots"] == 20);
  CHECK(s["max_workers"] == 10);
  CHECK(s["node_joins"] == 2);
  REQUIRE(s["worker_nodes"].size() == 2);
  std::set<std::string> names;
  for (auto& n : s["worker_nodes"]) {
    names.insert(n["node"].get<std::string>());
    CHECK(n["running"] == 0);
    CHECK(n["slots"] == 10);
  }
  CHECK(names == std::set<std::string>{"n1", "n2"});
  REQUIRE(s["node_events"].size() == 2);
  CHECK(s["node_events"][0]["kind"] == "joined");
  for (auto timing : {"queue_wait", "run_time", "end_to_end"})
    CHECK(s[timing]["count"] == 23);
  auto ms = s["unix_ms"].get<int64_t>();
  auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     before.time_since_epoch()).count();
  CHECK(ms >= before_ms - 1000);
  CHECK(ms <= before_ms + 60000);

  auto n = get_json(srv, "/api/nodes");
  CHECK(n["worker_node_count"] == 2);
  CHECK(n["slots"] == 20);
  CHECK(n["nodes"] == s["worker_nodes"]);
  CHECK(n["node_events"] == s["node_events"]);
}

TEST_CASE("metrics parse with the Prometheus parser and match the run", "[http]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(2)));
  run_tasks(c, sched, 20, 3);
  auto srv = serve(c, sched);
  auto text = http_get(srv, "/metrics");
  CHECK(text.status == 200);
  CHECK(text.content_type == "text/plain; version=0.0.4; charset=utf-8");
  auto m = parse_metrics(srv.url() + "metrics");
  auto check = [&](const std::string& name, const std::string& type, double value) {
    INFO(name);
    REQUIRE(m.count(name) == 1);
    CHECK(m[name].first == type);
    CHECK(m[name].second == value);
  };
  check("gasched_tasks_submitted_total", "counter", 23);
  check("gasched_tasks_succeeded_total", "counter", 20);
  check("gasched_tasks_failed_total", "counter", 3);
  check("gasched_tasks_cancelled_total", "counter", 0);
  check("gasched_tasks_quarantined_total", "counter", 0);
  check("gasched_tasks_requeued_total", "counter", 0);
  check("gasched_tasks_reclaimed_total", "counter", 0);
  check("gasched_late_results_total", "counter", 0);
  check("gasched_node_joins_total", "counter", 2);
  check("gasched_node_losses_total", "counter", 0);
  check("gasched_node_rejoins_total", "counter", 0);
  // A scheduler without a shared journal: alone, so active.
  check("gasched_scheduler_active", "gauge", 1);
  check("gasched_generation", "gauge", 0);
  check("gasched_takeovers_total", "counter", 0);
  check("gasched_standbys", "gauge", 0);
  check("gasched_tasks_adopted_total", "counter", 0);
  check("gasched_tasks_unadopted", "gauge", 0);
  // Not shared: no active address to name.
  for (auto& [name, sample] : m)
    CHECK(name.rfind("gasched_active_scheduler{", 0) != 0);
  check("gasched_tasks_pending", "gauge", 0);
  check("gasched_tasks_running", "gauge", 0);
  check("gasched_nodes", "gauge", 2);
  check("gasched_slots", "gauge", 20);
  check("gasched_max_workers", "gauge", 10);
  for (auto node : {"n1", "n2"}) {
    check(std::string{"gasched_node_running_tasks{node="} + node + "}", "gauge", 0);
    check(std::string{"gasched_node_slots{node="} + node + "}", "gauge", 10);
  }
  for (std::string family : {"gasched_task_queue_wait_seconds", "gasched_task_run_seconds",
                             "gasched_task_duration_seconds"}) {
    check(family + "_count", "histogram", 23);  // succeeded + failed
    check(family + "_bucket{le=+Inf}", "histogram", 23);
    check(family + "_bucket{le=3600}", "histogram", 23);
  }
}

TEST_CASE("a histogram from the metrics writer parses with the Prometheus parser", "[http]") {
  // What the scheduler's timing histograms are written with.
  detail::http::metrics_writer w;
  detail::http::histogram_data h{{0.001, 0.01, 0.1, 1}, {2, 5, 9, 10}, 3.25, 11};
  w.histogram("gasched_task_run_seconds", "Run time.", h, {{"node", "a \"quoted\"\\name"}});
  w.counter("gasched_x_total", "A counter.", 18446744073709551615ull);
  auto path = (std::filesystem::temp_directory_path()
               / ("gasched-metrics-" + std::to_string(getpid()) + ".txt")).string();
  std::ofstream{path} << w.text();
  auto m = parse_metrics(path);
  std::filesystem::remove(path);
  auto label = std::string{"node=a \"quoted\"\\name"};
  CHECK(m["gasched_task_run_seconds_bucket{le=0.01," + label + "}"].second == 5);
  CHECK(m["gasched_task_run_seconds_bucket{le=+Inf," + label + "}"].second == 11);
  CHECK(m["gasched_task_run_seconds_sum{" + label + "}"].second == 3.25);
  CHECK(m["gasched_task_run_seconds_count{" + label + "}"].first == "histogram");
  CHECK(m["gasched_x_total"].second == 18446744073709551615.0);
}

TEST_CASE("a standby's role, generation, takeovers, standbys, the active's address and the "
          "adopted tasks reach the metrics and the JSON",
          "[http]") {
  stats s;
  s.role = "standby";
  s.generation = 7;
  s.takeovers = 3;
  s.adopted = 5;
  s.unadopted = 2;
  s.active = "10.0.0.1:7000";
  s.standbys = {"10.0.0.2:7000", "10.0.0.3:7000"};
  auto path = (std::filesystem::temp_directory_path()
               / ("gasched-role-" + std::to_string(getpid()) + ".txt")).string();
  std::ofstream{path} << prometheus_text(s);
  auto m = parse_metrics(path);
  std::filesystem::remove(path);
  CHECK(m["gasched_scheduler_active"] == std::make_pair(std::string{"gauge"}, 0.0));
  CHECK(m["gasched_generation"] == std::make_pair(std::string{"gauge"}, 7.0));
  CHECK(m["gasched_takeovers_total"] == std::make_pair(std::string{"counter"}, 3.0));
  CHECK(m["gasched_standbys"] == std::make_pair(std::string{"gauge"}, 2.0));
  CHECK(m["gasched_active_scheduler{address=10.0.0.1:7000}"]
        == std::make_pair(std::string{"gauge"}, 1.0));
  CHECK(m["gasched_tasks_adopted_total"] == std::make_pair(std::string{"counter"}, 5.0));
  CHECK(m["gasched_tasks_unadopted"] == std::make_pair(std::string{"gauge"}, 2.0));
  s.role = "active";
  std::ofstream{path} << prometheus_text(s);
  CHECK(parse_metrics(path)["gasched_scheduler_active"].second == 1.0);
  std::filesystem::remove(path);
  auto j = json::parse(stats_json(s, 0));
  CHECK(j["role"] == "active");
  CHECK(j["generation"] == 7);
  CHECK(j["takeovers"] == 3);
  CHECK(j["active"] == "10.0.0.1:7000");
  CHECK(j["standbys"] == json::array({"10.0.0.2:7000", "10.0.0.3:7000"}));
  CHECK(j["adopted"] == 5);
  CHECK(j["unadopted"] == 2);
}

TEST_CASE("api tasks lists pending and running tasks with their totals", "[http]") {
  cluster c;
  auto sched = one_node_scheduler(c, 2);
  std::vector<task_id> ids;
  for (int32_t i = 0; i < 5; ++i)
    ids.push_back(c.execute(sched, make_task("test.sleep", caf::make_message(i, int32_t{30000}))));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 2 && s.pending == 3; }));
  auto srv = serve(c, sched);

  auto pending = get_json(srv, "/api/tasks?state=pending");
  CHECK(pending["state"] == "pending");
  CHECK(pending["total"] == 3);
  CHECK(pending["running"] == 2);
  REQUIRE(pending["tasks"].size() == 3);
  CHECK(pending["tasks"][0]["function"] == "test.sleep");
  CHECK(pending["tasks"][0]["state"] == "pending");
  CHECK(pending["tasks"][0]["args"] == "(2, 30000)");  // queue order: the third task first

  auto running = get_json(srv, "/api/tasks?state=running");
  CHECK(running["total"] == 2);
  REQUIRE(running["tasks"].size() == 2);
  CHECK(running["tasks"][1]["state"] == "running");

  auto all = get_json(srv, "/api/tasks");
  CHECK(all["total"] == 5);
  CHECK(all["returned"] == 5);
  auto one = get_json(srv, "/api/tasks?state=pending&limit=1");
  CHECK(one["total"] == 3);
  CHECK(one["returned"] == 1);
  CHECK(one["tasks"].size() == 1);
  get_json(srv, "/api/tasks?state=done", 400);
  get_json(srv, "/api/tasks?limit=x", 400);
  for (auto id : ids)
    CHECK(c.ask<caf::ok_atom>(sched, cancel_atom::value, id));
  c.results(5);
}

TEST_CASE("serve_http reports its port and fails clearly when the port is taken", "[http]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(1)));
  auto first = serve(c, sched);
  auto port = first.port();
  CHECK(first.url() == "http://127.0.0.1:" + std::to_string(port) + "/");
  auto second = serve_http(c.sys(), sched, "127.0.0.1", port);
  REQUIRE(!second);
  CHECK(is(second.error(), errc::network_error));
  CHECK_THAT(describe(second.error()), Catch::Contains("127.0.0.1:" + std::to_string(port)));
  CHECK(http_get(first, "/nowhere").status == 404);
  CHECK(http_get(first, "/").content_type == "text/html; charset=utf-8");

  auto moved = std::move(first);  // the handle moves; the server keeps serving
  CHECK(http_get(moved, "/api/stats").status == 200);
  moved.stop();
  moved.stop();  // idempotent
  auto again = serve_http(c.sys(), sched, "127.0.0.1", port);
  CHECK(again);  // the port is free once stopped

  CHECK(is(serve_http(c.sys(), scheduler_actor{}, "127.0.0.1", 0).error(), errc::invalid_argument));
  http_options zero;
  zero.port = 0;
  zero.threads = 0;
  CHECK(is(serve_http(c.sys(), sched, zero).error(), errc::invalid_argument));
}

TEST_CASE("without a scheduler the endpoints answer 503", "[http]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(1)));
  auto srv = serve(c, sched);
  CHECK(c.ask<caf::ok_atom>(sched, stop_atom::value));
  REQUIRE(c.wait_down(sched) == caf::error{});  // a normal end, in time
  auto s = get_json(srv, "/api/stats", 503);
  CHECK_THAT(s["error"].get<std::string>(), Catch::Contains("scheduler unavailable"));
  CHECK(http_get(srv, "/metrics").status == 503);
  CHECK(http_get(srv, "/api/tasks").status == 503);
  CHECK(http_get(srv, "/").status == 200);  // the page itself says the scheduler is gone
}

namespace {

// Context switches of each thread of this process, by thread id.
std::map<std::string, uint64_t> context_switches() {
  std::map<std::string, uint64_t> result;
  for (auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream status{entry.path() / "status"};
    std::string line;
    uint64_t n = 0;
    while (std::getline(status, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0
          || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        n += std::stoull(line.substr(line.find(':') + 1));
    result[entry.path().filename().string()] = n;
  }
  return result;
}

} // namespace

TEST_CASE("an idle endpoint wakes none of its threads", "[http]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(1)));
  auto before = context_switches();
  auto srv = serve(c, sched);
  CHECK(http_get(srv, "/api/stats").status == 200);
  // The threads serve_http started, and what they do in the two seconds
  // after the first: the first absorbs the tail of the request above.
  std::this_thread::sleep_for(1s);
  auto start = context_switches();
  std::this_thread::sleep_for(1s);
  auto end = context_switches();
  size_t threads = 0;
  uint64_t wakeups = 0;
  for (auto& [tid, n] : start) {
    if (before.count(tid) || !end.count(tid))
      continue;
    ++threads;
    wakeups += end[tid] - n;
  }
  CHECK(threads >= 2);  // the accepting thread and the workers
  CHECK(wakeups == 0);
}

TEST_CASE("gasched-ctl prints the stats of a published scheduler", "[http][ctl]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(2)));
  run_tasks(c, sched, 5, 1);
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto address = "127.0.0.1:" + std::to_string(*port);
  std::string ctl = GASCHED_CTL_PROGRAM;

  auto as_json = run_program({ctl, "--connect", address, "--status", "--json"});
  REQUIRE(as_json.exit_code == 0);
  auto s = json::parse(as_json.out);
  CHECK(s["succeeded"] == 5);
  CHECK(s["failed"] == 1);
  CHECK(s["worker_node_count"] == 2);
  CHECK(s["worker_nodes"].size() == 2);
  CHECK(s["end_to_end"]["count"] == 6);  // the histograms crossed the network
  CHECK(s["role"] == "alone");

  auto table = run_program({ctl, "--connect", address, "--status"});
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("succeeded") && Catch::Contains("n1")
                          && Catch::Contains("n2") && Catch::Contains("2 up, 20 slots")
                          && Catch::Contains("role alone"));

  auto watch = run_program({ctl, "--connect", address, "--watch", "--json", "--interval", "0.1",
                            "--count", "3"});
  REQUIRE(watch.exit_code == 0);
  CHECK(std::count(watch.out.begin(), watch.out.end(), '\n') == 3);

  for (auto bad : std::vector<std::vector<std::string>>{
         {ctl}, {ctl, "--connect", "nohost"}, {ctl, "--connect", address, "--status", "--watch"},
         {ctl, "--connect", address, "--watch", "--interval", "0"}})
    CHECK(run_program(bad).exit_code == 2);

  auto closed = serve(c, sched);  // a port that surely refuses once stopped
  auto closed_port = closed.port();
  closed.stop();
  auto log = (std::filesystem::temp_directory_path()
              / ("gasched-ctl-" + std::to_string(getpid()) + ".err")).string();
  auto refused = run_program({ctl, "--connect", "127.0.0.1:" + std::to_string(closed_port)},
                             60s, log);
  std::stringstream err;
  err << std::ifstream{log}.rdbuf();
  std::filesystem::remove(log);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(err.str(), Catch::Contains("cannot connect to 127.0.0.1:"));
}

TEST_CASE("gasched-ctl reaches a scheduler that uses TLS with --tls", "[http][ctl]") {
  auto dir = (std::filesystem::temp_directory_path()
              / ("gasched-ctl-tls-" + std::to_string(getpid()))).string();
  REQUIRE(run_program({GASCHED_CERTS_PROGRAM, dir, "sched", "ctl"}).exit_code == 0);
  caf::actor_system_config cfg;
  REQUIRE(!init(cfg, {}, tls_options::from_dir(dir + "/sched")));
  caf::actor_system sys{cfg};
  registry reg;
  examples::add_to(reg);
  scheduler_options opts;
  opts.nodes = {spawn_node(sys, reg, "n1")};
  auto sched = spawn_scheduler(sys, opts);
  REQUIRE(sched);
  auto port = publish(sys, *sched, 0);
  REQUIRE(port);
  std::string ctl = GASCHED_CTL_PROGRAM;
  auto address = "127.0.0.1:" + std::to_string(*port);
  auto with_tls = run_program({ctl, "--connect", address, "--json", "--tls", dir + "/ctl"});
  auto without = run_program({ctl, "--connect", address, "--json"});
  std::filesystem::remove_all(dir);
  caf::anon_send_exit(*sched, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(opts.nodes[0], caf::exit_reason::user_shutdown);
  REQUIRE(with_tls.exit_code == 0);
  CHECK(nlohmann::json::parse(with_tls.out)["worker_node_count"] == 1);
  CHECK(without.exit_code == 1);  // a plain client cannot even connect
}
