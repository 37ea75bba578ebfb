// gasched-node and gasched-test-node on their own: what they offer, the
// data folder they keep to, their heartbeat options, and a --join that
// finds no scheduler.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "held_port.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

// What a node program offers: its --list-functions lines.
std::vector<std::string> functions_of(const std::string& program) {
  auto process = gasched::tools::child_process::start({program, "--list-functions"});
  std::vector<std::string> lines;
  while (auto line = process.read_line(20s))
    lines.push_back(*line);
  auto status = process.wait_exit(10s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  return lines;
}

} // namespace

TEST_CASE("gasched-node --heartbeat and --heartbeat-timeout: accepted, bad values exit 2",
          "[run][node]") {
  scratch dir;
  auto node = gasched::tools::start_node(GASCHED_NODE_PROGRAM,
                                         {"--port", "0", "--heartbeat", "100",
                                          "--heartbeat-timeout", "2000"},
                                         20s, true);
  CHECK(node.port != 0);
  node.process.signal(SIGTERM);
  auto status = node.process.wait_exit(10s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  for (auto bad : std::vector<std::vector<std::string>>{{"--heartbeat", "abc"},
                                                        {"--heartbeat", "0"},
                                                        {"--heartbeat-timeout", "-5"},
                                                        {"--heartbeat", "300",
                                                         "--heartbeat-timeout", "200"},
                                                        {"--caf#no.such-key=1"}}) {
    // The refusal names the option that is wrong: the last one given.
    auto wrong = *std::find_if(bad.rbegin(), bad.rend(),
                               [](const std::string& a) { return a.rfind("--", 0) == 0; });
    bad.insert(bad.begin(), GASCHED_NODE_PROGRAM);
    INFO(bad[1]);
    std::string err;
    CHECK(exit_status(bad, err, dir) == 2);
    CHECK(err.find(wrong) != std::string::npos);
  }
}

TEST_CASE("gasched-node offers only what is safe to expose, gasched-test-node the test "
          "functions too",
          "[run][node]") {
  auto stock = functions_of(stock_node_program());
  CHECK(stock == std::vector<std::string>{"demo.bad()", "demo.flaky()",
                                          "events.aggregate(std::string, std::string)",
                                          "hello.world(int32_t)"});
  auto test = functions_of(GASCHED_NODE_PROGRAM);
  CHECK(test.size() == stock.size() + 12);
  for (auto fn : {"test.die()", "test.sleep(int32_t, int32_t)", "hello.world(int32_t)",
                  "test.record(int32_t, int32_t, std::string)"})
    CHECK(std::find(test.begin(), test.end(), fn) != test.end());
  // --help names them too, and --exclude leaves one out of the list.
  auto help = gasched::tools::child_process::start({stock_node_program(), "--help"});
  std::string text;
  while (auto line = help.read_line(10s))
    text += *line + "\n";
  CHECK(text.find("Functions offered: demo.bad, demo.flaky, events.aggregate, hello.world")
        != std::string::npos);
  auto excluded = gasched::tools::child_process::start(
    {stock_node_program(), "--exclude", "demo.flaky", "--list-functions"});
  std::vector<std::string> left;
  while (auto line = excluded.read_line(10s))
    left.push_back(*line);
  CHECK(left.size() == 3);
}

TEST_CASE("events.aggregate reads and writes only inside the node's data folder",
          "[run][node][data]") {
  scratch dir;
  auto data = dir.file("data");
  fs::create_directories(data + "/events");
  fs::create_directories(data + "/partials");
  std::ofstream{data + "/events/b.jsonl"}
    << R"({"ts":1704067210,"game":"g","player":1,"type":"session_start"})" << "\n";
  auto outside = dir.file("outside.jsonl", "{}\n");
  fs::create_symlink(outside, data + "/link.jsonl");
  auto line = [](const std::string& batch, const std::string& partial) {
    return "{\"fn\": \"events.aggregate\", \"args\": [\"" + batch + "\", \"" + partial + "\"]}\n";
  };
  auto tasks = dir.file("tasks.jsonl", line("events/b.jsonl", "partials/b.part")
                                         + line("../outside.jsonl", "")
                                         + line(outside, "")
                                         + line("link.jsonl", "")
                                         + line("events/b.jsonl", "../escape.part")
                                         + line("events/b.jsonl", dir.file("abs.part")));
  SECTION("with --data: inside is fine, every way out is refused") {
    // The stock node program: gasched-run's default.
    run_process run{dir, {"--tasks", tasks, "--data", data, "--progress", "off"}};
    auto status = run.finish();
    INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
    CHECK(status == 1);
    REQUIRE(run.out.size() == 6);
    std::map<int, json> by_line;
    for (auto& l : run.out)
      by_line[json::parse(l)["line"].get<int>()] = json::parse(l);
    CHECK(by_line[1]["ok"] == true);
    CHECK(fs::is_regular_file(data + "/partials/b.part"));
    for (int n = 2; n <= 6; ++n) {
      INFO("line " << n);
      CHECK(by_line[n]["error"] == "permanent_failure");
      CHECK(by_line[n]["reason"].get<std::string>().find("outside this node's data folder")
            != std::string::npos);
    }
    CHECK(!fs::exists(dir.file("escape.part")));
    CHECK(!fs::exists(dir.file("abs.part")));
  }
  SECTION("without a data folder: refused, saying why") {
    run_process run{dir, {"--tasks", tasks, "--nodes", "1", "--progress", "off"}};
    CHECK(run.finish() == 1);
    INFO("stdout:\n" << run.all_out());
    REQUIRE(!run.out.empty());
    auto first = json::parse(run.out[0]);
    CHECK(first["error"] == "permanent_failure");
    CHECK(first["reason"].get<std::string>().find("no data folder: start it with --data-dir")
          != std::string::npos);
  }
}


TEST_CASE("gasched-node --join to a closed port or a silent service says so at the default "
          "log level",
          "[run][node]") {
  scratch dir;
  auto listening = GENERATE(false, true);
  held_port probe{listening};  // without listening: connections refused
  auto target = "127.0.0.1:" + std::to_string(probe.port);
  auto err_path = dir.file("node-stderr.txt");
  auto node = gasched::tools::child_process::start_logged(
    {stock_node_program(), "--join", target}, err_path);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string err;
  while ((err = read_all(err_path)).find("cannot join") == std::string::npos
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);  // a file: nothing to block on but its growth
  INFO((listening ? "a silent listener" : "a closed port") << "; stderr:\n" << err);
  CHECK(err.find("cannot join the scheduler at " + target) != std::string::npos);
  node.signal(SIGTERM);
  CHECK(node.wait_exit(10s));
}
