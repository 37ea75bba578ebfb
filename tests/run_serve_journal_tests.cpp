// gasched-run --serve --journal: a served scheduler killed with kill -9 in the
// middle of a client's batch and started again on the same journal and port
// resumes every unfinished task; the client (this process, which outlives
// it) awaits every id and gets each result, and the nodes (which joined and
// rejoin by themselves) ran each task once: those running at the kill went on
// running and the restarted scheduler adopted them. A node killed with the
// scheduler: its tasks run again once the wait for its claim is over. Bad
// journals are refused.
#include <map>
#include <regex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "gasched/gasched.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

// Lines "ID" that test.record appended: how often each task started.
std::map<int, int> executions(const std::string& path) {
  std::map<int, int> n;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    ++n[std::stoi(line)];
  return n;
}

size_t line_count(const std::string& path) {
  size_t n = 0;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

// A scheduler published at `port` (after a restart: once it answers there).
gasched::scheduler_actor reach(caf::actor_system& sys, uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto s = gasched::connect_scheduler(sys, "127.0.0.1", port);
    if (s)
      return *s;
    if (std::chrono::steady_clock::now() >= deadline)
      FAIL("no scheduler at port " << port << ": " << gasched::describe(s.error()));
    std::this_thread::sleep_for(50ms);  // its process is still starting: nothing to await
  }
}

} // namespace

TEST_CASE("gasched-run --serve --journal: killed with kill -9 mid-batch and started again, "
          "it resumes every unfinished task and its client awaits each result once",
          "[run][remote][journal]") {
  scratch dir;
  auto journal = dir.file("sched.db");
  auto record = dir.file("runs.txt");
  auto serve = [&](const std::string& port) {
    return on_test_nodes({"--listen", "127.0.0.1:" + port, "--serve", "--nodes", "0",
                          "--journal", journal, "--json", "--quiet"});
  };
  std::optional<run_process> server;
  server.emplace(dir, serve("0"));
  auto address = served_address(*server, "127.0.0.1");
  auto port_text = address.substr(address.rfind(':') + 1);
  auto port = static_cast<uint16_t>(std::stoi(port_text));
  auto role = await_err(*server, std::regex{"role: [^\n]*\n"});
  REQUIRE(role);
  CHECK(role->find("role: alone; journal " + journal + ": 0 unfinished tasks resumed")
        != std::string::npos);
  // Two nodes of 2 slots that joined; they rejoin the scheduler by themselves.
  std::vector<gasched::tools::child_process> nodes;
  for (auto name : {"n1", "n2"}) {
    nodes.push_back(gasched::tools::child_process::start(
      {GASCHED_NODE_PROGRAM, "--join", address, "--name", name, "--log", "off"}, true));
    REQUIRE(nodes.back().read_line(20s));
  }
  caf::actor_system_config cfg;
  REQUIRE(!gasched::init(cfg));
  caf::actor_system sys{cfg};
  const int n = 40;  // 150 ms each on 4 slots: about 1.5 s
  std::vector<gasched::task_id> ids;
  {
    gasched::blocking_client client{sys, reach(sys, port)};
    for (int i = 1; i <= n; ++i) {
      auto id = client.execute(gasched::task{"test.record", caf::make_message(i, 150, record)});
      REQUIRE(id);
      ids.push_back(*id);
    }
  }
  // Mid-batch: some tasks ran, most did not.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (line_count(record) < 8) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);  // the file grows as tasks start: nothing to block on
  }
  kill(server->pid(), SIGKILL);
  server.reset();  // reaps it
  REQUIRE(line_count(record) < static_cast<size_t>(n));
  server.emplace(dir, serve(port_text));
  served_address(*server, "127.0.0.1");
  role = await_err(*server, std::regex{"role: [^\n]*\n"});
  REQUIRE(role);
  std::smatch m;
  REQUIRE(std::regex_search(*role, m, std::regex{"journal [^:]+: ([0-9]+) unfinished tasks? resumed"}));
  auto resumed = std::stoi(m[1].str());
  CHECK(resumed > 0);
  CHECK(resumed < n);
  // The client, still the same process, awaits every task: those that
  // finished before the kill from the journal, the others as they end.
  {
    gasched::blocking_client client{sys, reach(sys, port), 30s, 60s};
    for (int i = 1; i <= n; ++i) {
      auto r = client.await(ids[static_cast<size_t>(i - 1)]);
      INFO("task " << i);
      REQUIRE(r);
      REQUIRE(r->ok());
      CHECK(r->value.get_as<int32_t>(0) == i);
    }
  }
  // Each task ran once. Those running when the scheduler died went on
  // running on their nodes, which named them when they joined again; the
  // restarted scheduler adopted them and took their results.
  auto runs = executions(record);
  CHECK(runs.size() == static_cast<size_t>(n));
  for (auto& [id, count] : runs) {
    INFO("task " << id << " ran " << count << " times");
    CHECK(count == 1);
  }
  // The restarted scheduler says it adopted them.
  {
    gasched::blocking_client client{sys, reach(sys, port)};
    auto s = client.stats();
    REQUIRE(s);
    CHECK(s->adopted > 0);
    CHECK(s->adopted < static_cast<uint64_t>(n));
    CHECK(s->unadopted == 0);
  }
  // The restarted server ends with nothing unfinished, and exits 0.
  server->signal(SIGTERM);
  REQUIRE(server->finish(30s) == 0);
  REQUIRE(!server->out.empty());
  auto summary = json::parse(server->out.back())["summary"];
  INFO(summary.dump());
  CHECK(summary["unfinished"] == 0);
  CHECK(summary["succeeded"] >= resumed);
}

TEST_CASE("gasched-run --serve --journal: a node killed with the scheduler cannot claim its "
          "tasks; they run again once the wait for claims is over, the other node's run once",
          "[run][remote][journal]") {
  scratch dir;
  auto journal = dir.file("sched.db");
  auto record = dir.file("runs.txt");
  auto serve = [&](const std::string& port) {
    return on_test_nodes({"--listen", "127.0.0.1:" + port, "--serve", "--nodes", "0",
                          "--journal", journal, "--json", "--quiet"});
  };
  std::optional<run_process> server;
  server.emplace(dir, serve("0"));
  auto address = served_address(*server, "127.0.0.1");
  auto port_text = address.substr(address.rfind(':') + 1);
  auto port = static_cast<uint16_t>(std::stoi(port_text));
  std::vector<gasched::tools::child_process> nodes;
  for (auto name : {"n1", "n2"}) {
    nodes.push_back(gasched::tools::child_process::start(
      {GASCHED_NODE_PROGRAM, "--join", address, "--name", name, "--log", "off"}, true));
    REQUIRE(nodes.back().read_line(20s));
  }
  caf::actor_system_config cfg;
  REQUIRE(!gasched::init(cfg));
  caf::actor_system sys{cfg};
  // 4 long tasks fill the 4 slots, then short ones.
  const int n = 12;
  std::vector<gasched::task_id> ids;
  {
    gasched::blocking_client client{sys, reach(sys, port)};
    for (int i = 1; i <= n; ++i) {
      auto ms = i <= 4 ? 3000 : 50;
      auto id = client.execute(gasched::task{"test.record", caf::make_message(i, ms, record)});
      REQUIRE(id);
      ids.push_back(*id);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (line_count(record) < 4) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);  // the file grows as tasks start: nothing to block on
  }
  // The scheduler and n2 die together; n1 lives on with its 2 long tasks.
  kill(server->pid(), SIGKILL);
  nodes[1].signal(SIGKILL);
  server.reset();
  auto started = executions(record);
  server.emplace(dir, serve(port_text));
  served_address(*server, "127.0.0.1");
  {
    gasched::blocking_client client{sys, reach(sys, port), 30s, 60s};
    for (int i = 1; i <= n; ++i) {
      auto r = client.await(ids[static_cast<size_t>(i - 1)]);
      INFO("task " << i);
      REQUIRE(r);
      REQUIRE(r->ok());
      CHECK(r->value.get_as<int32_t>(0) == i);
      CHECK(r->node == "n1");  // the only node left
    }
    auto s = client.stats();
    REQUIRE(s);
    CHECK(s->adopted >= 2);   // n1's running tasks, at least
    CHECK(s->unadopted == 0);
  }
  // n1's tasks ran once; n2's running ones twice (it died with them); none more.
  auto runs = executions(record);
  CHECK(runs.size() == static_cast<size_t>(n));
  int again = 0;
  for (auto& [id, count] : runs) {
    INFO("task " << id << " ran " << count << " times");
    CHECK(count >= 1);
    CHECK(count <= 2);
    again += count - 1;
  }
  CHECK(again >= 2);  // n2's 2 slots each ran a long task when it died
  CHECK(again <= static_cast<int>(started.size()) - 2);
  server->signal(SIGTERM);
  REQUIRE(server->finish(30s) == 0);
}

TEST_CASE("gasched-run --serve --journal: a journal that cannot be opened is refused by name",
          "[run][journal]") {
  scratch dir;
  auto bad = dir.file("no-such-folder/sched.db");
  run_process server{dir, {"--listen", "127.0.0.1:0", "--serve", "--nodes", "0", "--journal",
                           bad, "--quiet"}};
  auto status = server.finish(30s);
  INFO("stderr:\n" << server.err());
  CHECK(status == 1);
  CHECK(server.err().find(bad) != std::string::npos);
  CHECK(server.out.empty());  // it never listened
}

TEST_CASE("gasched-run --journal without --tasks or --serve is refused", "[run][journal]") {
  scratch dir;
  std::string err;
  CHECK(exit_status({GASCHED_RUN_PROGRAM, "--journal", dir.file("j.db")}, err, dir) == 2);
  CHECK(err.find("--journal: needs --tasks or --serve") != std::string::npos);
}
