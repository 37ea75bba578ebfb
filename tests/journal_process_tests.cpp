// A scheduler process with a journal, killed with kill -9 at random moments
// and started again on the same file and port, while node processes that
// joined it run 5,000 tasks: every task ends exactly once in the results.
#include "cluster_support.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

using namespace gasched;
using namespace gasched::testing;

TEST_CASE("journal: a scheduler process killed with kill -9 again and again loses no task "
          "and sends each result once",
          "[cluster][journal]") {
  auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng{seed};
  char name[] = "/tmp/gasched-kill-XXXXXX";
  std::filesystem::path dir = mkdtemp(name);
  auto journal = (dir / "sched.db").string();
  auto out = (dir / "results.txt").string();
  const int n = 5000;
  std::vector<uint64_t> resumed;  // tasks unfinished in the journal, at each start
  auto start = [&](uint16_t port) {
    auto p = tools::child_process::start({GASCHED_TEST_SCHEDULER_PROGRAM, journal,
                                          std::to_string(port), out, std::to_string(n), "5"},
                                         std::getenv("GASCHED_LOG") == nullptr);
    auto line = p.read_line(std::chrono::seconds(20));
    REQUIRE(line);
    INFO(*line);
    std::smatch m;
    REQUIRE(std::regex_match(*line, m, std::regex{"listening ([0-9]+) resumed ([0-9]+)"}));
    resumed.push_back(std::stoull(m[2].str()));
    return std::make_pair(std::move(p), static_cast<uint16_t>(std::stoi(m[1].str())));
  };
  auto [sched, port] = start(0);
  process_cluster c;  // this process only starts the nodes
  c.start_joining_node("n1", port);
  c.start_joining_node("n2", port);
  for (int kill = 0; kill < 4; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
      std::uniform_int_distribution<int>{100, 500}(rng)));  // a random moment, not a wait
    sched.kill();
    sched = start(port).first;
  }
  // Each start after a kill took its unfinished tasks from the journal: the
  // first kill came at most 500 ms into 5,000 tasks of 5 ms run 10 at a
  // time on each of 2 nodes, with half of them still to run at least.
  // Fewer after each kill, never more.
  std::string starts;
  for (auto r : resumed)
    starts += " " + std::to_string(r);
  INFO("tasks resumed at each start:" << starts);
  REQUIRE(resumed.size() == 5);
  CHECK(resumed[0] == 0);  // a new journal
  CHECK(resumed[1] > 0);
  CHECK(resumed[1] <= static_cast<uint64_t>(n));
  for (size_t i = 2; i < resumed.size(); ++i)
    CHECK(resumed[i] <= resumed[i - 1]);
  auto done = sched.read_line(std::chrono::seconds(90));
  REQUIRE(done);
  CHECK(*done == "done");
  REQUIRE(sched.wait_exit(std::chrono::seconds(20)) == 0);
  std::map<task_id, int> seen;
  std::ifstream in{out};
  for (std::string line; std::getline(in, line);) {
    auto space = line.find(' ');
    REQUIRE(space != std::string::npos);
    ++seen[std::stoull(line.substr(0, space))];
    CHECK(line.substr(space + 1) != "error");
  }
  CHECK(seen.size() == static_cast<size_t>(n));
  for (auto& [id, count] : seen) {
    INFO("task " << id);
    CHECK(count == 1);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
