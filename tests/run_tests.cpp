// gasched-run as a user runs it: the real binary in a child process, with
// real gasched-node processes under it, at small sizes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  run_process run{dir, {"--tasks", tasks, "--json", "--progress", "off"}};
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
  run_process run{dir, {"--tasks", tasks, "--quiet"}};
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
  run_process server{dir, {"--listen", "127.0.0.1:0", "--serve", "--quiet"}};
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
  run_process run{dir, {"--tasks", dir.file("slow.jsonl", slow), "--slots", "3", "--progress",
                        "lines", "--progress-every", "0.1"}};
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
  run_process run{dir, {"--tasks", tasks, "--nodes", "1", "--slots", "1", "--max-restarts", "1",
                        "--json", "--progress", "off"}};
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
  run_process run{dir, {"--tasks", tasks, "--nodes", "1", "--heartbeat", "150",
                        "--heartbeat-timeout", "1500", "--progress", "off"}};
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
