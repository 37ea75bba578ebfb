// gasched-run supervising its local nodes: Ctrl-C stops them, a node that
// keeps dying is given up, no node at all ends the run, heartbeat settings
// reach the nodes.
#include <algorithm>
#include <cerrno>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

bool process_gone(pid_t pid, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (kill(pid, 0) != 0 && errno == ESRCH)
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

} // namespace

TEST_CASE("gasched-run: Ctrl-C stops the run and the node processes it started",
          "[run][signals]") {
  scratch dir;
  std::string slow;
  for (int i = 1; i <= 6; ++i)
    slow += "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i) + ", 60000]}\n";
  run_process run{dir, on_test_nodes({"--tasks", dir.file("slow.jsonl", slow), "--slots", "3",
                                      "--progress", "lines", "--progress-every", "0.1"})};
  // Interrupted once every task runs: a progress line says so.
  auto err = await_err(run, std::regex{"\\b6 running"});
  INFO("stderr:\n" << run.err());
  REQUIRE(err);
  // "started 2 gasched-node processes ...: node-1 (pid N), node-2 (pid M)"
  std::vector<pid_t> pids;
  std::regex pid_re{"\\(pid ([0-9]+)\\)"};
  for (auto it = std::sregex_iterator(err->begin(), err->end(), pid_re);
       it != std::sregex_iterator(); ++it)
    pids.push_back(static_cast<pid_t>(std::stoi((*it)[1].str())));
  REQUIRE(pids.size() == 2);
  run.signal(SIGINT);
  CHECK(run.finish(30s) == 130);
  for (auto pid : pids)
    CHECK(process_gone(pid));
  CHECK(run.err().find("interrupted") != std::string::npos);
}

namespace {

// Every stdout line of a --tasks --json run: the results by line number, and the summary.
struct task_output {
  std::map<int, json> by_line;
  json summary;
};

task_output parse_task_output(const run_process& run) {
  task_output result;
  for (auto& l : run.out) {
    auto j = json::parse(l);
    if (j.contains("summary"))
      result.summary = j["summary"];
    else
      result.by_line[j["line"].get<int>()] = j;
  }
  return result;
}

} // namespace

TEST_CASE("gasched-run: a node that keeps dying is given up after --max-restarts, exit 1",
          "[run][supervision]") {
  scratch dir;
  // Each test.die kills its node; with one slot on one node, the first kills
  // node-1, the restarted node-1 runs it again and dies again.
  auto tasks = dir.file("die.jsonl", "{\"fn\": \"test.die\"}\n"
                                     "{\"fn\": \"test.die\"}\n"
                                     "{\"fn\": \"hello.world\", \"args\": [3]}\n");
  run_process run{dir, on_test_nodes({"--tasks", tasks, "--nodes", "1", "--slots", "1",
                                      "--max-restarts", "1", "--json", "--progress", "off"})};
  auto status = run.finish(60s);
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  CHECK(status == 1);
  auto err = run.err();
  CHECK(std::regex_search(err, std::regex{"giving up on node-1: it died again \\(pid [0-9]+, "
                                          "killed by signal 9 \\(SIGKILL\\)\\) after 1 restart"}));
  CHECK(err.find("restarted node-1 as pid") != std::string::npos);
  auto output = parse_task_output(run);
  REQUIRE(output.by_line.size() == 3);
  for (auto& [line, result] : output.by_line) {
    CHECK(result["ok"] == false);  // never a success
    CHECK(result["error"] == "unfinished");
  }
  auto& summary = output.summary;
  CHECK(summary["ok"] == false);
  CHECK(summary["unfinished"] == 3);
  CHECK(summary["error"].get<std::string>().find("node-1 killed by signal 9") != std::string::npos);
  REQUIRE(summary["restarts"].size() == 2);
  CHECK(summary["restarts"][0]["restarted"] == true);
  CHECK(summary["restarts"][1]["restarted"] == false);
  CHECK(summary["restarts"][1]["signal"] == SIGKILL);
}

TEST_CASE("gasched-run --no-nodes-timeout: tasks that no node can run end the run, exit 1",
          "[run][supervision]") {
  scratch dir;
  auto tasks = dir.file("tasks.jsonl", "{\"fn\": \"hello.world\", \"args\": [1]}\n"
                                       "{\"fn\": \"hello.world\", \"args\": [2]}\n");
  auto started = std::chrono::steady_clock::now();
  run_process run{dir, {"--nodes", "0", "--listen", "127.0.0.1:0", "--no-nodes-timeout", "1",
                        "--tasks", tasks, "--json"}};
  auto status = run.finish(30s);
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  CHECK(status == 1);
  CHECK(std::chrono::steady_clock::now() - started < 20s);
  CHECK(std::regex_search(run.err(), std::regex{"no node for 1 s with 2 tasks pending .*nodes "
                                                "join with: gasched-node --join "
                                                "127\\.0\\.0\\.1:[0-9]+"}));
  auto output = parse_task_output(run);
  REQUIRE(output.by_line.size() == 2);
  for (auto& [line, result] : output.by_line) {
    CHECK(result["ok"] == false);
    CHECK(result["error"] == "unfinished");
  }
  CHECK(output.summary["ok"] == false);
  CHECK(output.summary["succeeded"] == 0);
  CHECK(output.summary["unfinished"] == 2);
}

TEST_CASE("gasched-run --heartbeat: the local nodes get the same heartbeat settings",
          "[run][supervision]") {
  scratch dir;
  auto tasks = dir.file("slow.jsonl", "{\"fn\": \"test.sleep\", \"args\": [1, 60000]}\n");
  run_process run{dir, on_test_nodes({"--tasks", tasks, "--nodes", "1", "--heartbeat", "150",
                                      "--heartbeat-timeout", "1500", "--progress", "off"})};
  auto err = await_err(run, std::regex{"node-1 \\(pid [0-9]+\\)"});
  INFO("stderr:\n" << run.err());
  REQUIRE(err);
  std::smatch m;
  REQUIRE(std::regex_search(*err, m, std::regex{"node-1 \\(pid ([0-9]+)\\)"}));
  // /proc/PID/cmdline: the arguments, each ended by a NUL.
  auto cmdline = read_all("/proc/" + m[1].str() + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  CHECK(cmdline.find("--heartbeat 150 --heartbeat-timeout 1500") != std::string::npos);
  run.signal(SIGINT);
  CHECK(run.finish(30s) == 130);
  // A timeout not longer than the heartbeat would declare every peer down.
  run_process bad{dir, {"--heartbeat", "500", "--heartbeat-timeout", "500"}};
  CHECK(bad.finish() == 2);
  CHECK(bad.err().find("--heartbeat-timeout") != std::string::npos);
}
