// gasched-run as a user runs it: the real binary in a child process, with
// real gasched-node processes under it, at small sizes.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "gasched_run/event_aggregate.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;

// A scratch folder per test, removed at the end.
class scratch {
public:
  scratch() {
    std::string pattern = (fs::temp_directory_path() / "gasched-run-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }

  ~scratch() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

  std::string file(const std::string& name, const std::string& content = {}) const {
    auto p = path_ + "/" + name;
    if (!content.empty())
      std::ofstream{p} << content;
    return p;
  }

private:
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// In sanitizer builds, the child processes skip leaks inside CAF's
// middleman (lsan_caf.supp says why); a user's LSAN_OPTIONS wins.
void suppress_caf_leaks_in_children() {
  static bool done = [] {
    setenv("LSAN_OPTIONS", "suppressions=" GASCHED_LSAN_SUPPRESSIONS ":print_suppressions=0",
           0);
    return true;
  }();
  (void)done;
}

// gasched-run started with `args`: stdout is read line by line, stderr goes
// to a file (through sh, which execs gasched-run: the pid is its own).
class run_process {
public:
  run_process(const scratch& dir, std::vector<std::string> args) {
    suppress_caf_leaks_in_children();
    err_path_ = dir.file("stderr-" + std::to_string(counter()++) + ".txt");
    std::vector<std::string> argv{"/bin/sh", "-c", "f=$1; shift; exec \"$@\" 2>\"$f\"", "sh",
                                  err_path_, GASCHED_RUN_PROGRAM};
    argv.insert(argv.end(), args.begin(), args.end());
    for (auto& arg : args)
      command_ += " " + arg;
    process_ = gasched::tools::child_process::start(argv);
  }

  std::optional<std::string> line(std::chrono::milliseconds timeout = 60s) {
    return process_.read_line(timeout);
  }

  /// Every line up to the end of output, then the exit status.
  int finish(std::chrono::seconds timeout = 120s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        FAIL("gasched-run" << command_ << " did not finish in time; stderr:\n" << err());
      auto l = process_.read_line(left);
      if (!l)
        break;
      out.push_back(*l);
    }
    auto status = process_.wait_exit(10s);
    if (!status)
      FAIL("gasched-run" << command_ << " did not exit in time; stderr:\n" << err());
    if (!WIFEXITED(*status))
      FAIL("gasched-run" << command_ << " was killed by signal " << WTERMSIG(*status)
                         << "; stderr:\n"
                         << err());
    return WEXITSTATUS(*status);
  }

  std::string err() const {
    return read_all(err_path_);
  }

  std::string all_out() const {
    std::string text;
    for (auto& l : out)
      text += l + "\n";
    return text;
  }

  void signal(int sig) {
    process_.signal(sig);
  }

  pid_t pid() const noexcept {
    return process_.pid();
  }

  std::vector<std::string> out;

private:
  static int& counter() {
    static int n = 0;
    return n;
  }

  gasched::tools::child_process process_;
  std::string err_path_;
  std::string command_;  // the arguments, for messages
};

// The default job at a size that runs in well under a second.
const std::vector<std::string> small_job{"--batches", "24", "--games",   "3",
                                         "--players", "300", "--days",   "3",
                                         "--quiet"};

// 40 batches of a few thousand events, one node killed after 8 results: a
// node always has tasks running when it dies.
const std::vector<std::string> kill_job{"--batches", "40", "--games", "4", "--players", "1500",
                                        "--days", "3", "--kill-node-after", "8"};

std::vector<std::string> with(std::vector<std::string> args,
                              const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// gasched-run's arguments with its local nodes running the test functions
// (test.*), which the stock gasched-node does not offer.
std::vector<std::string> on_test_nodes(std::vector<std::string> args) {
  return with(std::move(args), {"--node-program", GASCHED_NODE_PROGRAM});
}

// The stock node, next to gasched-run as gasched-run itself finds it.
std::string stock_node_program() {
  return (fs::path{GASCHED_RUN_PROGRAM}.parent_path() / "gasched-node").string();
}

// Waits until `run`'s stderr matches `pattern`; its text then, or nothing at the deadline.
// (stderr is a file: there is nothing to block on but its growth.)
std::optional<std::string> await_err(const run_process& run, const std::regex& pattern,
                                     std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto err = run.err();
    if (std::regex_search(err, pattern))
      return err;
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

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

TEST_CASE("event aggregates: a merge of partials counts each player once", "[run][events]") {
  using gasched::events::aggregate;
  auto event = [](int64_t ts, const char* game, int player, const char* rest) {
    return "{\"ts\":" + std::to_string(ts) + ",\"game\":\"" + game
           + "\",\"player\":" + std::to_string(player) + "," + rest + "}";
  };
  constexpr int64_t day1 = 1704067200;  // 2024-01-01
  constexpr int64_t day2 = day1 + 86400;
  std::vector<std::string> batch_a{
    event(day1 + 10, "g", 1, R"("type":"session_start")"),
    event(day1 + 20, "g", 1, R"("type":"progress","stage":"tutorial")"),
    event(day1 + 30, "g", 2, R"("type":"purchase","item":"x","amount_cents":199)"),
    "{\"ts\":1704067200,\"game\":",  // truncated
  };
  std::vector<std::string> batch_b{
    event(day1 + 40, "g", 1, R"("type":"design","event":"ui")"),  // player 1 again, day 1
    event(day2 + 10, "g", 1, R"("type":"session_start")"),
    event(day2 + 20, "h", 1, R"("type":"progress","stage":"level_5")"),
    event(day2 + 30, "g", 3, R"("type":"progress","stage":"nowhere")"),  // unknown stage
  };
  aggregate a, b, single;
  for (auto& l : batch_a) {
    a.add_line(l);
    single.add_line(l);
  }
  for (auto& l : batch_b) {
    b.add_line(l);
    single.add_line(l);
  }
  a.batches = b.batches = 1;
  single.batches = 2;
  // Through the wire format, as the results travel.
  auto merged = aggregate::decode(a.encode());
  merged.merge(aggregate::decode(b.encode()));
  CHECK(merged == single);
  CHECK(gasched::events::first_difference(merged, single).empty());
  auto& g = merged.games.at("g");
  CHECK(g.active_by_day.at(19723).size() == 2);  // players 1 and 2, player 1 once
  CHECK(g.active_by_day.at(19724).size() == 1);
  CHECK(g.players().size() == 2);
  CHECK(g.sessions == 2);
  CHECK(g.revenue_cents == 199);
  CHECK(g.reached[0].size() == 1);
  CHECK(merged.games.at("h").reached[1].size() == 1);
  CHECK(merged.malformed == 2);
  CHECK(merged.events == 6);
  CHECK(gasched::events::day_label(19723) == "2024-01-01");
  // A partial that went wrong is caught, not merged as zeros.
  CHECK_THROWS(aggregate::decode("not an aggregate"));
  CHECK_THROWS(aggregate::decode("gasched.events/1 1 2 0\nd 5 2 1\n"));
  auto changed = single;
  changed.games["g"].active_by_day[19724].insert(99);
  CHECK(gasched::events::first_difference(changed, single) == "g daily active players differ");
}

TEST_CASE("gasched-run: the default job checks its merged totals and exits 0", "[run]") {
  scratch dir;
  run_process run{dir, small_job};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  CHECK(status == 0);
  auto out = run.all_out();
  CHECK(out.find("check: OK, the merged totals equal a single-process computation of the "
                 "same 24 files")
        != std::string::npos);
  CHECK(out.find("space-miners") != std::string::npos);
  CHECK(out.find("funnel") != std::string::npos);
  CHECK(out.find("requeued: 0 tasks") != std::string::npos);
}

TEST_CASE("gasched-run --json: a summary that parses, with the checked totals", "[run]") {
  scratch dir;
  run_process run{dir, with(small_job, {"--json", "--data", dir.file("data")})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  REQUIRE(status == 0);
  auto summary = json::parse(run.all_out());
  CHECK(summary["ok"] == true);
  CHECK(summary["check"]["result"] == "passed");
  CHECK(summary["tasks"]["total"] == 24);
  CHECK(summary["tasks"]["succeeded"] == 24);
  CHECK(summary["tasks"]["failed"] == 0);
  REQUIRE(summary["games"].size() == 3);
  uint64_t events = 0;
  for (auto& node : summary["nodes"])
    events += node["events"].get<uint64_t>();
  CHECK(events == summary["events"].get<uint64_t>());
  for (auto& game : summary["games"]) {
    CHECK(game["players"].get<uint64_t>() <= 300);
    CHECK(game["dau"].size() == 3);
    CHECK(game["funnel"]["tutorial"].get<uint64_t>() >= game["funnel"]["boss"].get<uint64_t>());
  }
  // --data keeps the files: the batches and one partial per batch, no
  // temporary file left by the write-then-rename; and the nodes' stderr.
  size_t batches = 0, partials = 0, others = 0;
  CHECK(fs::is_regular_file(dir.file("data/node-logs/node-1.log")));
  for (auto& entry : fs::recursive_directory_iterator(dir.file("data"))) {
    if (!entry.is_regular_file() || entry.path().parent_path().filename() == "node-logs")
      continue;
    auto ext = entry.path().extension();
    (ext == ".jsonl" ? batches : ext == ".part" ? partials : others)++;
  }
  CHECK(batches == 24);
  CHECK(partials == 24);
  CHECK(others == 0);
}

TEST_CASE("gasched-run --kill-node-after: a node dies, the totals are still checked",
          "[run][failover]") {
  scratch dir;
  run_process run{dir, with(kill_job, {"--json", "--quiet"})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  REQUIRE(status == 0);
  auto summary = json::parse(run.all_out());
  CHECK(summary["ok"] == true);
  CHECK(summary["check"]["result"] == "passed");
  CHECK(summary["tasks"]["succeeded"] == 40);
  REQUIRE(summary.contains("killed"));
  auto killed = summary["killed"]["node"].get<std::string>();
  CHECK(summary["killed"]["after_results"] == 8);
  CHECK(summary["killed"]["running_then"].get<uint64_t>() >= 1);
  CHECK(summary["tasks"]["requeued"].get<uint64_t>() >= 1);
  // One result per task, whoever delivered it: the survivor, or the killed
  // node once it was restarted.
  uint64_t delivered = 0;
  for (auto& node : summary["nodes"])
    delivered += node["succeeded"].get<uint64_t>();
  CHECK(delivered == 40);
  // Supervision started it again, under its name, as a new process.
  REQUIRE(summary["restarts"].size() == 1);
  auto& restart = summary["restarts"][0];
  CHECK(restart["node"] == killed);
  CHECK(restart["by_kill_node_after"] == true);
  CHECK(restart["signal"] == SIGKILL);
  CHECK(restart["restarted"] == true);
  CHECK(restart["new_pid"] != restart["old_pid"]);
  REQUIRE(summary["killed"]["restart"].is_object());
  CHECK(summary["killed"]["restart"]["pid"] == restart["new_pid"]);
  CHECK(summary["killed"]["restart"]["seconds"].get<double>()
        >= summary["killed"]["seconds"].get<double>());
  CHECK(summary["node_losses"].get<uint64_t>() >= 1);
  CHECK(summary["tasks"]["unfinished"] == 0);
}

TEST_CASE("gasched-run --kill-node-after: the table says who was killed and what was requeued",
          "[run][failover]") {
  scratch dir;
  run_process run{dir, with(kill_job, {"--progress", "off"})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  REQUIRE(status == 0);
  auto out = run.all_out();
  CHECK(std::regex_search(out, std::regex{"killed \\(kill -9\\) after 8 results.*; restarted "
                                          "at [0-9.]+ s as pid [0-9]+"}));
  CHECK(std::regex_search(out, std::regex{"local node deaths: 1\n  at +[0-9.]+ s  node-[12] "
                                          "\\(pid [0-9]+\\) killed by signal 9 \\(SIGKILL\\) by "
                                          "--kill-node-after: restarted as pid [0-9]+"}));
  CHECK(std::regex_search(out, std::regex{"nodes: 2 joined, [1-9][0-9]* lost"}));
  CHECK(std::regex_search(out, std::regex{"requeued: [1-9][0-9]* tasks? went back to the queue"}));
  CHECK(out.find("check: OK") != std::string::npos);
  CHECK(run.err().find("killed node-") != std::string::npos);
}

TEST_CASE("gasched-run --tasks: good lines run, bad lines are reported by number, exit 1",
          "[run][tasks]") {
  scratch dir;
  auto tasks = dir.file("tasks.jsonl", "{\"fn\": \"hello.world\", \"args\": [1]}\n"
                                       "{\"fn\": \"hello.world\", \"args\": [2\n"
                                       "{\"fn\": \"hello.world\", \"args\": [3], \"priority\": 5}\n"
                                       "{\"fn\": \"hello.world\", \"arg\": [4]}\n"
                                       "\n"
                                       "{\"fn\": \"test.identity\", \"args\": [6]}\n"
                                       "{\"fn\": \"demo.bad\"}\n");
  run_process run{dir, on_test_nodes({"--tasks", tasks, "--json", "--progress", "off"})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  CHECK(status == 1);
  std::map<int, json> by_line;
  json summary;
  for (auto& l : run.out) {
    auto j = json::parse(l);  // every stdout line is JSON
    if (j.contains("summary"))
      summary = j["summary"];
    else
      by_line[j["line"].get<int>()] = j;
  }
  REQUIRE(by_line.size() == 6);
  CHECK(by_line[1]["ok"] == true);
  CHECK(by_line[1]["value"] == 1);
  CHECK(by_line[3]["value"] == 3);
  CHECK(by_line[6]["value"] == 6);
  CHECK(by_line[2]["error"] == "malformed");
  CHECK(by_line[4]["error"] == "malformed");
  CHECK(by_line[4]["reason"].get<std::string>().find("\"arg\"") != std::string::npos);
  CHECK(by_line[7]["ok"] == false);
  CHECK(by_line[7]["error"] == "permanent_failure");
  CHECK(summary["tasks"] == 4);
  CHECK(summary["succeeded"] == 3);
  CHECK(summary["failed"] == 1);
  CHECK(summary["malformed_lines"] == 2);
  CHECK(summary["ok"] == false);
  auto err = run.err();
  CHECK(err.find(tasks + ":2: not JSON") != std::string::npos);
  CHECK(err.find(tasks + ":4: unknown key \"arg\"") != std::string::npos);
  CHECK(err.find("1 of 4 tasks failed; 2 malformed lines") != std::string::npos);
}

TEST_CASE("gasched-run --tasks: every task succeeds, exit 0",
          "[run][tasks]") {
  scratch dir;
  auto tasks = dir.file("tasks.jsonl", "{\"fn\": \"hello.world\", \"args\": [7]}\n"
                                       "{\"fn\": \"test.node_name\"}\n"
                                       "{\"fn\": \"test.sleep\", \"args\": [9, 10]}\n");
  run_process run{dir, on_test_nodes({"--tasks", tasks, "--quiet"})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  CHECK(status == 0);
  REQUIRE(run.out.size() == 3);
  for (auto& l : run.out) {
    auto j = json::parse(l);
    CHECK(j["ok"] == true);
    if (j["fn"] == "test.node_name")
      CHECK(j["value"] == j["node"]);
  }
  CHECK(run.err().empty());
}

TEST_CASE("gasched-run: usage errors exit 2 with a clear message", "[run]") {
  scratch dir;
  SECTION("a missing task file") {
    run_process run{dir, {"--tasks", dir.file("missing.jsonl")}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("missing.jsonl") != std::string::npos);
  }
  SECTION("--nodes 0 without --listen") {
    run_process run{dir, {"--nodes", "0"}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--listen") != std::string::npos);
  }
  SECTION("--nodes out of range") {
    run_process run{dir, {"--nodes", "100"}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--nodes") != std::string::npos);
  }
  SECTION("--connect with --kill-node-after") {
    run_process run{dir, {"--connect", "127.0.0.1:1", "--kill-node-after", "3"}};
    CHECK(run.finish() == 2);
  }
  SECTION("a node program that does not exist") {
    run_process run{dir, with(small_job, {"--node-program", dir.file("no-such-node")})};
    CHECK(run.finish() == 1);
    CHECK(run.err().find("no-such-node") != std::string::npos);
  }
}

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

TEST_CASE("gasched-run --caf#: CAF options reach the actor system, a bad key exits 2",
          "[run]") {
  scratch dir;
  SECTION("a known key") {
    run_process run{dir, with(small_job, {"--caf#middleman.connection-timeout=3s"})};
    auto status = run.finish();
    INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
    CHECK(status == 0);
    CHECK(run.all_out().find("check: OK") != std::string::npos);
  }
  SECTION("an unknown key") {
    run_process run{dir, with(small_job, {"--caf#no.such-key=1"})};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("no.such-key") != std::string::npos);
  }
  SECTION("an argument that is neither") {
    run_process run{dir, with(small_job, {"--no-such-option"})};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--no-such-option") != std::string::npos);
  }
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

TEST_CASE("gasched-node --heartbeat and --heartbeat-timeout: accepted, bad values exit 2",
          "[run][node]") {
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
    bad.insert(bad.begin(), GASCHED_NODE_PROGRAM);
    auto process = gasched::tools::child_process::start(bad, true);
    auto exit = process.wait_exit(10s);
    INFO(bad[1]);
    REQUIRE(exit);
    CHECK(WIFEXITED(*exit));
    CHECK(WEXITSTATUS(*exit) == 2);
  }
}

namespace {

// A program's exit status after `args`, its stderr in `err`; FAILs on a
// timeout or a signal.
int exit_status(std::vector<std::string> argv, std::string& err, const scratch& dir) {
  suppress_caf_leaks_in_children();
  static int runs = 0;
  auto err_path = dir.file("exit-" + std::to_string(++runs) + ".txt");
  auto process = gasched::tools::child_process::start_logged(argv, err_path);
  while (process.read_line(30s)) {
  }
  auto status = process.wait_exit(30s);
  err = read_all(err_path);
  INFO(argv[0] << " " << argv[1] << "\nstderr: " << err);
  REQUIRE(status);
  REQUIRE(WIFEXITED(*status));
  return WEXITSTATUS(*status);
}

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

// The "listening on HOST:PORT" line of a --serve, as HOST:PORT.
std::string served_address(run_process& server, const std::string& host) {
  auto first = server.line(30s);
  INFO("stderr:\n" << server.err());
  REQUIRE(first);
  std::smatch m;
  INFO("first line: " << *first);
  REQUIRE(std::regex_search(*first, m, std::regex{"listening on ([0-9.]+):([0-9]+)"}));
  CHECK(m[1].str() == host);
  return "127.0.0.1:" + m[2].str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// apps/scripts/gasched-certs, found from this file: tests/../apps/scripts.
std::string certs_program() {
  return (fs::path{__FILE__}.parent_path().parent_path() / "apps/scripts/gasched-certs")
    .string();
}

} // namespace

TEST_CASE("gasched-node offers only what is safe to expose, gasched-test-node the test "
          "functions too",
          "[run][node]") {
  auto stock = functions_of(stock_node_program());
  CHECK(stock == std::vector<std::string>{"demo.bad()", "demo.flaky()",
                                          "events.aggregate(std::string, std::string)",
                                          "hello.world(int32_t)"});
  auto test = functions_of(GASCHED_NODE_PROGRAM);
  CHECK(test.size() == stock.size() + 10);
  for (auto fn : {"test.die()", "test.sleep(int32_t, int32_t)", "hello.world(int32_t)"})
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

namespace {

// A loopback port and, with `listening`, a socket that listens there but
// never accepts: the kernel completes connections that no CAF ever answers.
struct probe_port {
  int fd = -1;
  uint16_t port = 0;

  explicit probe_port(bool listening) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    if (listening) {
      REQUIRE(listen(fd, 16) == 0);
    } else {
      close(fd);  // free a moment ago: nothing listens there now
      fd = -1;
    }
  }

  ~probe_port() {
    if (fd >= 0)
      close(fd);
  }
};

} // namespace

TEST_CASE("gasched-node --join to a closed port or a silent service says so at the default "
          "log level",
          "[run][node]") {
  scratch dir;
  auto listening = GENERATE(false, true);
  probe_port probe{listening};
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

TEST_CASE("every program maps usage errors to exit 2 and runtime failures to exit 1",
          "[run][exit]") {
  scratch dir;
  std::string err;
  for (auto program : {stock_node_program(), std::string{GASCHED_NODE_PROGRAM}}) {
    INFO(program);
    CHECK(exit_status({program, "--no-such-option"}, err, dir) == 2);
    CHECK(exit_status({program, "--port", "abc"}, err, dir) == 2);
    CHECK(exit_status({program, "--data-dir", dir.file("missing")}, err, dir) == 2);
    CHECK(err.find("missing") != std::string::npos);
    CHECK(exit_status({program, "--join", "nohostport"}, err, dir) == 2);
    CHECK(exit_status({program, "--host", "0.0.0.0"}, err, dir) == 2);
    CHECK(exit_status({program, "--help"}, err, dir) == 0);
    CHECK(exit_status({program, "--tls", dir.file("no-certs")}, err, dir) == 1);
    CHECK(err.find("ca.pem") != std::string::npos);
  }
  auto run = std::string{GASCHED_RUN_PROGRAM};
  CHECK(exit_status({run, "--no-such-option"}, err, dir) == 2);
  CHECK(exit_status({run, "--nodes", "abc"}, err, dir) == 2);
  CHECK(exit_status({run, "--listen", "1.2.3.4:99999"}, err, dir) == 2);
  CHECK(exit_status({run, "--tasks", dir.file("")}, err, dir) == 2);
  CHECK(err.find("is a folder") != std::string::npos);
  CHECK(exit_status({run, "--help"}, err, dir) == 0);
  CHECK(exit_status({run, "--tls", dir.file("no-certs")}, err, dir) == 1);
}

TEST_CASE("gasched-run --tasks reads a named pipe and a shell's <(...)", "[run][tasks]") {
  scratch dir;
  auto lines = dir.file("lines.jsonl", "{\"fn\": \"hello.world\", \"args\": [1]}\n"
                                       "{\"fn\": \"hello.world\", \"args\": [2]}\n");
  SECTION("a FIFO fed by another process") {
    auto fifo = dir.file("tasks.fifo");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // The writer blocks until gasched-run opens the FIFO; killed at the end if it never does.
    auto writer = gasched::tools::child_process::start(
      {"/bin/sh", "-c", "cat \"$0\" > \"$1\"", lines, fifo});
    run_process run{dir, {"--tasks", fifo, "--nodes", "1", "--quiet"}};
    CHECK(run.finish() == 0);
    CHECK(run.out.size() == 2);
    CHECK(writer.wait_exit(10s));
  }
  SECTION("process substitution") {
    auto shell = gasched::tools::child_process::start(
      {"/bin/bash", "-c", "exec \"$0\" --tasks <(cat \"$1\") --nodes 1 --quiet",
       GASCHED_RUN_PROGRAM, lines});
    std::vector<std::string> out;
    while (auto l = shell.read_line(60s))
      out.push_back(*l);
    auto status = shell.wait_exit(30s);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK(out.size() == 2);
  }
}

namespace {

// Voluntary context switches of every thread of `pid` so far: each is a
// thread going to sleep, so they count how often its threads woke up.
uint64_t wake_ups(pid_t pid) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in{task.path() / "status"};
    for (std::string line; std::getline(in, line);)
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
        total += std::stoull(line.substr(line.find(':') + 1));
  }
  return total;
}

// The fewest wake-ups of `pid`'s threads in one second, over up to `tries`
// seconds in a row (at once when one second had none): what starting up
// cost has passed by then, and a process that polls never gets near 0.
uint64_t fewest_wake_ups_per_second(pid_t pid, int tries = 10) {
  auto fewest = std::numeric_limits<uint64_t>::max();
  auto before = wake_ups(pid);
  for (int i = 0; i < tries && fewest > 0; ++i) {
    std::this_thread::sleep_for(1s);  // the window measured, not a wait for an event
    auto after = wake_ups(pid);
    if (after >= before)  // (a thread that ended takes its count along)
      fewest = std::min(fewest, after - before);
    before = after;
  }
  return fewest;
}

// Wake-ups of `pid`'s threads per second, on average over `window`.
double wake_ups_per_second(pid_t pid, std::chrono::seconds window) {
  auto before = wake_ups(pid);
  std::this_thread::sleep_for(window);  // the window measured, not a wait for an event
  auto after = wake_ups(pid);
  return after >= before ? static_cast<double>(after - before) / static_cast<double>(window.count())
                         : 0.0;
}

// CAF's own connection heartbeats (every 200 ms by default) out of the way:
// what is left is gasched's and CAF's scheduler.
const std::vector<std::string> no_heartbeats{"--heartbeat", "60000", "--heartbeat-timeout", "0"};

} // namespace

TEST_CASE("idle gasched processes sleep: no thread wakes up on a timer", "[run][idle]") {
  scratch dir;
  SECTION("gasched-run --serve with nothing submitted: a look every 2 s") {
    // Nodes that join and remote clients' tasks send it no message: an idle
    // server asks its scheduler every 2 s (a handful of wake-ups), where it
    // used to every 250 ms, with a watcher waking every 100 ms.
    run_process server{dir, with({"--listen", "127.0.0.1:0", "--serve", "--nodes", "0", "--quiet"},
                                 no_heartbeats)};
    served_address(server, "127.0.0.1");
    fewest_wake_ups_per_second(server.pid());  // past its start
    auto rate = wake_ups_per_second(server.pid(), 6s);
    INFO("stderr:\n" << server.err());
    CHECK(rate <= 5);
    server.signal(SIGTERM);
    CHECK(server.finish() == 0);
  }
  SECTION("gasched-run --tasks from a FIFO that went quiet, its node idle") {
    auto fifo = dir.file("tasks.fifo");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // One line, then the writer keeps the FIFO open and says nothing more.
    auto writer = gasched::tools::child_process::start(
      {"/bin/sh", "-c", "exec 3>\"$0\"; printf '%s\\n' \"$1\" >&3; exec sleep 600", fifo,
       "{\"fn\": \"hello.world\", \"args\": [7]}"});
    run_process run{dir, with({"--tasks", fifo, "--nodes", "1", "--quiet"}, no_heartbeats)};
    auto first = run.line(60s);
    INFO("stderr:\n" << run.err());
    REQUIRE(first);
    CHECK(first->find("\"ok\":true") != std::string::npos);
    CHECK(fewest_wake_ups_per_second(run.pid()) <= 2);
    writer.kill();  // the input ends: the run does too
    CHECK(run.finish() == 0);
  }
  SECTION("gasched-node with no scheduler") {
    auto node = gasched::tools::start_node(stock_node_program(),
                                           with({"--port", "0"}, no_heartbeats));
    CHECK(fewest_wake_ups_per_second(node.process.pid()) <= 2);
    node.process.signal(SIGTERM);
    CHECK(node.process.wait_exit(10s));
  }
}
