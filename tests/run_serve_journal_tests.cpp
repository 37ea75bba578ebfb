// gasched-run --serve --journal: a served scheduler killed with kill -9 in the
// middle of a client's batch and started again on the same journal and port
// resumes every unfinished task; the client (this process, which outlives
// it) awaits every id and gets each result, and the nodes (which joined and
// rejoin by themselves) ran each task once: those running at the kill went on
// running and the restarted scheduler adopted them. A node killed with the
// scheduler: its tasks run again once the wait for its claim is over.
// A gasched-run --connect client follows such a scheduler through restarts
// and broken connections, each line's result once. Bad journals are refused.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "gasched/gasched.hpp"
#include "held_port.hpp"
#include "out_check.hpp"
#include "run_support.hpp"
#include "tcp_proxy.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

// Bytes the kernel holds of what was written to `port` on 127.0.0.1 and not
// yet read there (/proc/net/tcp): the writer's unacknowledged bytes
// (tx_queue of its side) and the listener's unread ones (rx_queue of the
// accepted side). Loopback acknowledges what fits in the reader's buffer, so
// a batch written to a reader that stopped reading sits in either queue.
size_t unread_at(uint16_t port) {
  std::ifstream in{"/proc/net/tcp"};
  std::string line;
  std::getline(in, line);  // the header
  auto port_of = [](const std::string& address) -> unsigned long {
    auto colon = address.find(':');
    return colon == std::string::npos ? 0 : std::stoul(address.substr(colon + 1), nullptr, 16);
  };
  size_t total = 0;
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    std::string sl, local, remote, st, queues;
    fields >> sl >> local >> remote >> st >> queues;
    auto colon = queues.find(':');
    if (colon == std::string::npos)
      continue;
    if (port_of(remote) == port)
      total += std::stoul(queues.substr(0, colon), nullptr, 16);
    else if (port_of(local) == port && st == "01")  // established, not the listener
      total += std::stoul(queues.substr(colon + 1), nullptr, 16);
  }
  return total;
}

// The lines i..j of test.identity tasks.
std::string identity_lines(int from, int to) {
  std::string text;
  for (int i = from; i <= to; ++i)
    text += "{\"fn\": \"test.identity\", \"args\": [" + std::to_string(i) + "]}\n";
  return text;
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
          "tasks: they run again once the wait for claims is over, the other node's run once",
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
  int again = starts_again(runs);
  CHECK(again >= 2);  // n2's 2 slots each ran a long task when it died
  CHECK(again <= static_cast<int>(started.size()) - 2);
  server->signal(SIGTERM);
  REQUIRE(server->finish(30s) == 0);
}

TEST_CASE("gasched-run --connect A,B follows a journaled scheduler through two restarts "
          "(SIGKILL), at A then at B: exit 0, each line's result once",
          "[run][remote][journal][follow]") {
  scratch dir;
  auto journal = dir.file("sched.db");
  auto serve = [&](const std::string& port) {
    return on_test_nodes({"--listen", "127.0.0.1:" + port, "--serve", "--nodes", "0",
                          "--journal", journal, "--quiet"});
  };
  std::optional<run_process> server;
  server.emplace(dir, serve("0"));
  auto a = served_address(*server, "127.0.0.1");
  auto a_port = a.substr(a.rfind(':') + 1);
  // The list's second address: nothing listens there until the second restart.
  std::optional<held_port> refusing;
  refusing.emplace(false);
  auto b_port = std::to_string(refusing->port);
  auto b = "127.0.0.1:" + b_port;
  std::vector<gasched::tools::child_process> nodes;
  for (auto name : {"n1", "n2"}) {
    nodes.push_back(gasched::tools::child_process::start(
      {GASCHED_NODE_PROGRAM, "--join", a + "," + b, "--name", name, "--slots", "2", "--log",
       "off"},
      true));
    REQUIRE(nodes.back().read_line(20s));
  }
  // 3,000 lines of 5 ms on 4 slots: about 4 s without the kills.
  const int n = 3000;
  std::string tasks;
  for (int i = 1; i <= n; ++i)
    tasks += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 5]}\n";
  auto out = dir.file("out.jsonl");
  run_process client{dir, {"--connect", a + "," + b, "--tasks", dir.file("tasks.jsonl", tasks),
                           "--out", out, "-q"}};
  // Killed twice, each time once the client wrote more results, and started
  // again on the same journal: at A, then at B (a takeover elsewhere).
  for (size_t at : {500, 1500}) {
    await_lines(out, at, client);
    kill(server->pid(), SIGKILL);
    server.reset();  // reaps it
    auto port = at == 500 ? a_port : b_port;
    if (at != 500)
      refusing.reset();  // B free for the scheduler
    server.emplace(dir, serve(port));
    served_address(*server, "127.0.0.1");
  }
  auto status = client.finish(120s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 0);
  // One line per switch: the lost scheduler, the one followed, what was owed.
  auto err = client.err();
  auto switch_line = [](const std::string& from, const std::string& to) {
    return std::regex{"lost the scheduler at " + from + " \\([^\n]*\\); following " + to
                      + ": re-awaited [0-9]+, re-sent [0-9]+\n"};
  };
  CHECK(std::regex_search(err, switch_line(a, a)));
  CHECK(std::regex_search(err, switch_line(a, b)));
  check_each_line_once(out, n);
  server->signal(SIGTERM);
  CHECK(server->finish(30s) == 0);
}

TEST_CASE("gasched-run --connect follows its scheduler through two broken connections: "
          "exit 0, each line's result once", "[run][remote][journal][follow]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--nodes", "0",
                                         "--journal", dir.file("sched.db"), "--quiet"})};
  auto address = served_address(server, "127.0.0.1");
  auto port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  std::vector<gasched::tools::child_process> nodes;
  for (auto name : {"n1", "n2"}) {
    nodes.push_back(gasched::tools::child_process::start(
      {GASCHED_NODE_PROGRAM, "--join", address, "--name", name, "--slots", "2", "--log", "off"},
      true));
    REQUIRE(nodes.back().read_line(20s));
  }
  // The client reaches the scheduler through a proxy that cuts its connection.
  gasched::testing::tcp_proxy proxy{port};
  const int n = 4000;  // 2 ms each on 4 slots: about 2 s
  std::string tasks;
  for (int i = 1; i <= n; ++i)
    tasks += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 2]}\n";
  auto out = dir.file("out.jsonl");
  auto via = "127.0.0.1:" + std::to_string(proxy.port());
  run_process client{dir, {"--connect", via, "--tasks", dir.file("tasks.jsonl", tasks), "--out",
                           out, "-q"}};
  for (size_t at : {1000, 2500}) {
    await_lines(out, at, client);
    proxy.close_all();
  }
  auto status = client.finish(120s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 0);
  auto err = client.err();
  std::regex switched{"lost the scheduler at " + via + " \\([^\n]*\\); following " + via
                      + ": re-awaited [0-9]+, re-sent [0-9]+\n"};
  CHECK(std::distance(std::sregex_iterator(err.begin(), err.end(), switched),
                      std::sregex_iterator()) == 2);
  check_each_line_once(out, n);
  server.signal(SIGTERM);
  CHECK(server.finish(30s) == 0);
}

TEST_CASE("gasched-run --connect sends again a batch whose ids never came back: each line's "
          "result once", "[run][remote][journal][follow]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--nodes", "0",
                                         "--journal", dir.file("sched.db"), "--quiet"})};
  auto address = served_address(server, "127.0.0.1");
  auto port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  auto node = gasched::tools::child_process::start(
    {GASCHED_NODE_PROGRAM, "--join", address, "--name", "n1", "--log", "off"}, true);
  REQUIRE(node.read_line(20s));
  gasched::testing::tcp_proxy proxy{port};
  auto fifo = dir.file("tasks.fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto out = dir.file("out.jsonl");
  auto via = "127.0.0.1:" + std::to_string(proxy.port());
  run_process client{dir, {"--connect", via, "--tasks", fifo, "--out", out, "-q"}};
  int fd = -1;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    REQUIRE(errno == ENXIO);  // the client has not opened it yet
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(fcntl(fd, F_SETFL, 0) == 0);  // blocking writes from here
  auto send = [&](const std::string& text) {
    for (size_t at = 0; at < text.size();) {
      auto n = write(fd, text.data() + at, text.size() - at);
      REQUIRE(n > 0);
      at += static_cast<size_t>(n);
    }
  };
  send(identity_lines(1, 2000));
  await_lines(out, 2000, client);
  // The link stops: the next batch stays in the client's socket, unread.
  proxy.blackhole();
  send(identity_lines(2001, 3000));
  close(fd);  // the input ends
  deadline = std::chrono::steady_clock::now() + 30s;
  while (unread_at(proxy.port()) < 10000) {  // 1,000 tasks: some 30 kB
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);  // the kernel's queue: nothing to block on
  }
  // The connection breaks with the batch in it: the scheduler never saw it.
  proxy.close_all();
  proxy.pass();
  auto status = client.finish(120s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 0);
  auto err = client.err();
  std::smatch m;
  REQUIRE(std::regex_search(err, m, std::regex{"following " + via
                                               + ": re-awaited [0-9]+, re-sent ([0-9]+)"}));
  CHECK(std::stoi(m[1].str()) > 0);
  check_each_line_once(out, 3000);
  server.signal(SIGTERM);
  CHECK(server.finish(30s) == 0);
}

TEST_CASE("gasched-run --connect drops and counts the first copy's result of a line sent again",
          "[run][remote][journal][follow]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--nodes", "0",
                                         "--slots", "16", "--journal", dir.file("sched.db"),
                                         "--quiet"})};
  auto address = served_address(server, "127.0.0.1");
  auto port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  auto node = gasched::tools::child_process::start(
    {GASCHED_NODE_PROGRAM, "--join", address, "--name", "n1", "--slots", "16", "--log", "off"},
    true);
  REQUIRE(node.read_line(20s));
  gasched::testing::tcp_proxy proxy{port};
  auto fifo = dir.file("tasks.fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto out = dir.file("out.jsonl");
  auto via = "127.0.0.1:" + std::to_string(proxy.port());
  run_process client{dir, {"--connect", via, "--tasks", fifo, "--out", out, "--json", "-q"}};
  int fd = -1;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    REQUIRE(errno == ENXIO);  // the client has not opened it yet
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(fcntl(fd, F_SETFL, 0) == 0);  // blocking writes from here
  auto send = [&](const std::string& text) {
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  };
  send(identity_lines(1, 10));
  await_lines(out, 10, client);
  // Answers to the client stall: the scheduler takes the next batch, its ids
  // never come back. Its tasks take 4 s: the client is subscribed again long
  // before they end (the copies sent again run beside them, 16 slots).
  proxy.lossy(1.0, 60s, gasched::testing::tcp_proxy::direction::to_client);
  std::string slow;
  for (int i = 11; i <= 18; ++i)
    slow += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 4000]}\n";
  send(slow);
  close(fd);  // the input ends
  caf::actor_system_config cfg;
  REQUIRE(!gasched::init(cfg));
  caf::actor_system sys{cfg};
  {
    gasched::blocking_client direct{sys, reach(sys, port)};
    deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      auto s = direct.stats();
      REQUIRE(s);
      if (s->running + s->pending == 8)
        break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(10ms);  // the batch is on its way: nothing to block on
    }
  }
  proxy.close_all();
  proxy.pass();
  auto status = client.finish(120s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 0);
  check_each_line_once(out, 18);
  REQUIRE(!client.out.empty());
  auto summary = json::parse(client.out.back())["summary"];
  INFO(summary.dump());
  CHECK(summary["scheduler_switches"] == 1);
  // The first copies ended while the client was subscribed again: dropped.
  CHECK(summary["duplicate_results"] == 8);
  server.signal(SIGTERM);
  CHECK(server.finish(30s) == 0);
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
