// gasched-run --tasks: a file of JSON lines, each a task, whose results come
// back as JSON lines; bad lines are reported, pipes are read as they come.
#include <sys/stat.h>

#include <map>

#include <nlohmann/json.hpp>

#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

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
