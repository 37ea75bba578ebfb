// gasched-run --listen --serve and --connect: clients of one scheduler each
// get their own results, listening beyond loopback needs --tls or
// --insecure, and a stopped server reports what it left unfinished.
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "held_port.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// apps/scripts/gasched-certs, named by CMake (a path from __FILE__ breaks
// under a compiler cache that makes paths relative).
std::string certs_program() { return GASCHED_CERTS_PROGRAM; }

} // namespace

TEST_CASE("gasched-run --listen --serve: two --connect clients each get exactly their own "
          "results",
          "[run][remote]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--quiet"})};
  auto first = server.line(30s);
  REQUIRE(first);
  std::smatch m;
  REQUIRE(std::regex_search(*first, m, std::regex{"listening on 127\\.0\\.0\\.1:([0-9]+)"}));
  auto address = "127.0.0.1:" + m[1].str();
  std::string a, b;
  for (int i = 1; i <= 30; ++i) {
    a += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 20]}\n";
    b += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(1000 + i) + ", 20]}\n";
  }
  run_process client_a{dir, {"--connect", address, "--tasks", dir.file("a.jsonl", a), "-q"}};
  run_process client_b{dir, {"--connect", address, "--tasks", dir.file("b.jsonl", b), "-q"}};
  auto status_a = client_a.finish();
  auto status_b = client_b.finish();
  INFO("a:\n" << client_a.all_out() << client_a.err() << "b:\n" << client_b.all_out()
              << client_b.err());
  CHECK(status_a == 0);
  CHECK(status_b == 0);
  auto values = [](const run_process& p) {
    std::set<int> result;
    for (auto& l : p.out) {
      auto j = json::parse(l);
      CHECK(j["ok"] == true);
      result.insert(j["value"].get<int>());
    }
    return std::make_pair(result, p.out.size());
  };
  auto [got_a, lines_a] = values(client_a);
  auto [got_b, lines_b] = values(client_b);
  CHECK(lines_a == 30);
  CHECK(lines_b == 30);
  REQUIRE(got_a.size() == 30);
  REQUIRE(got_b.size() == 30);
  CHECK(*got_a.begin() == 1);
  CHECK(*got_a.rbegin() == 30);
  CHECK(*got_b.begin() == 1001);
  CHECK(*got_b.rbegin() == 1030);
  // Serving ends with a signal, cleanly.
  server.signal(SIGTERM);
  CHECK(server.finish() == 0);
}

TEST_CASE("gasched-run --listen: loopback by default, beyond it only with --tls or --insecure",
          "[run][trust]") {
  scratch dir;
  SECTION("a port alone listens on 127.0.0.1") {
    run_process server{dir, {"--listen", "0", "--serve", "--nodes", "0", "--quiet"}};
    served_address(server, "127.0.0.1");
    server.signal(SIGTERM);
    CHECK(server.finish() == 0);
  }
  SECTION("0.0.0.0 without --tls is refused with a reason, exit 2") {
    run_process server{dir, {"--listen", "0.0.0.0:0", "--serve", "--nodes", "0"}};
    CHECK(server.finish() == 2);
    auto err = server.err();
    CHECK(err.find("--tls DIR") != std::string::npos);
    CHECK(err.find("gasched-certs") != std::string::npos);
    CHECK(err.find("--insecure") != std::string::npos);
  }
  SECTION("--insecure listens there and warns once") {
    run_process server{dir, {"--listen", "0.0.0.0:0", "--serve", "--nodes", "0", "--insecure",
                             "--quiet"}};
    served_address(server, "0.0.0.0");
    server.signal(SIGTERM);
    CHECK(server.finish() == 0);
    CHECK(count_of(server.err(), "in plain text (--insecure)") == 1);
  }
  SECTION("--tls with missing certificates: init's message, exit 1") {
    run_process run{dir, {"--tls", dir.file("no-certs"), "--tasks", dir.file("t.jsonl", "\n")}};
    CHECK(run.finish() == 1);
    CHECK(run.err().find(dir.file("no-certs") + "/ca.pem") != std::string::npos);
  }
}

TEST_CASE("gasched-run --tls: local nodes, --serve and --connect all use the certificates",
          "[run][trust]") {
  scratch dir;
  auto certs = dir.file("certs");
  std::string err;
  REQUIRE(exit_status({certs_program(), certs, "run"}, err, dir) == 0);
  auto tls = certs + "/run";
  auto tasks = dir.file("tasks.jsonl", "{\"fn\": \"hello.world\", \"args\": [1]}\n"
                                       "{\"fn\": \"hello.world\", \"args\": [2]}\n");
  run_process local{dir, {"--tls", tls, "--tasks", tasks, "--quiet"}};
  CHECK(local.finish() == 0);
  CHECK(local.out.size() == 2);
  run_process server{dir, {"--tls", tls, "--listen", "127.0.0.1:0", "--serve", "--quiet"}};
  auto address = served_address(server, "127.0.0.1");
  run_process client{dir, {"--tls", tls, "--connect", address, "--tasks", tasks, "--quiet"}};
  CHECK(client.finish() == 0);
  CHECK(client.out.size() == 2);
  // Without a certificate there is no session at all.
  run_process stranger{dir, {"--connect", address, "--tasks", tasks, "--quiet"}};
  CHECK(stranger.finish() == 1);
  INFO("the stranger's stderr:\n" << stranger.err());
  CHECK(stranger.err().find(address) != std::string::npos);  // where it was refused
  server.signal(SIGTERM);
  CHECK(server.finish() == 0);
}

TEST_CASE("gasched-run --serve stopped with tasks left reports them unfinished",
          "[run][signals]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--nodes", "1",
                                         "--slots", "1", "--json", "--progress", "lines",
                                         "--progress-every", "0.1"})};
  auto address = served_address(server, "127.0.0.1");
  std::string slow;
  for (int i = 1; i <= 3; ++i)
    slow += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 60000]}\n";
  run_process client{dir, {"--connect", address, "--tasks", dir.file("slow.jsonl", slow),
                           "--quiet"}};
  // One running, two pending: the server's progress line says so.
  REQUIRE(await_err(server, std::regex{" 1 running, 2 pending"}));
  server.signal(SIGTERM);
  auto status = server.finish(30s);
  INFO("stdout:\n" << server.all_out() << "stderr:\n" << server.err());
  CHECK(status == 128 + SIGTERM);
  CHECK(server.err().find("with 3 tasks unfinished") != std::string::npos);
  REQUIRE(!server.out.empty());
  auto summary = json::parse(server.out.back())["summary"];
  CHECK(summary["unfinished"] == 3);
  CHECK(summary["ok"] == false);
  CHECK(client.finish(60s) == 1);  // it lost the scheduler: its tasks are unfinished too
}

TEST_CASE("gasched-run --connect A,B: A refuses connections, the run goes to B with every "
          "result once", "[run][remote][follow]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--quiet"})};
  auto first = server.line(30s);
  REQUIRE(first);
  std::smatch m;
  REQUIRE(std::regex_search(*first, m, std::regex{"listening on 127\\.0\\.0\\.1:([0-9]+)"}));
  held_port closed{false};
  auto addresses = "127.0.0.1:" + std::to_string(closed.port) + ",127.0.0.1:" + m[1].str();
  std::string tasks;
  for (int i = 1; i <= 50; ++i)
    tasks += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 1]}\n";
  run_process client{dir, {"--connect", addresses, "--tasks", dir.file("t.jsonl", tasks), "-q"}};
  auto status = client.finish();
  INFO(client.all_out() << client.err());
  CHECK(status == 0);
  std::multiset<int> values;
  for (auto& l : client.out)
    values.insert(json::parse(l)["value"].get<int>());
  CHECK(values.size() == 50);
  CHECK(std::set<int>(values.begin(), values.end()).size() == 50);
  server.signal(SIGTERM);
  CHECK(server.finish() == 0);
}

TEST_CASE("gasched-run --connect: 10,000 results come in batches, each line's once",
          "[run][remote][subscribe]") {
  scratch dir;
  run_process server{dir, on_test_nodes({"--listen", "127.0.0.1:0", "--serve", "--quiet"})};
  auto first = server.line(30s);
  REQUIRE(first);
  std::smatch m;
  REQUIRE(std::regex_search(*first, m, std::regex{"listening on 127\\.0\\.0\\.1:([0-9]+)"}));
  const int n = 10000;
  std::string tasks;
  for (int i = 1; i <= n; ++i)
    tasks += "{\"fn\": \"test.identity\", \"args\": [" + std::to_string(i) + "]}\n";
  run_process client{dir, {"--connect", "127.0.0.1:" + m[1].str(), "--tasks",
                           dir.file("t.jsonl", tasks), "-q"}};
  auto status = client.finish();
  INFO(client.err());
  CHECK(status == 0);
  std::map<int, int> seen;  // value -> lines
  for (auto& l : client.out) {
    auto j = json::parse(l);
    CHECK(j["ok"] == true);
    CHECK(j["value"] == j["line"]);
    ++seen[j["value"].get<int>()];
  }
  CHECK(client.out.size() == static_cast<size_t>(n));
  CHECK(seen.size() == static_cast<size_t>(n));
  for (auto& [value, count] : seen)
    if (count != 1)
      FAIL("value " << value << " came " << count << " times");
  server.signal(SIGTERM);
  CHECK(server.finish() == 0);
}
