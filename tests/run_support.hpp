// What the tests of gasched-run and gasched-node share: a scratch folder,
// the programs run as a user runs them, and what they print.
#pragma once

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"

namespace gasched::run_test {

using namespace std::chrono_literals;
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

inline std::string read_all(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// In sanitizer builds, the child processes skip leaks inside CAF's
// middleman (lsan_caf.supp says why); a user's LSAN_OPTIONS wins.
inline void suppress_caf_leaks_in_children() {
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
inline const std::vector<std::string> small_job{"--batches", "24", "--games",   "3",
                                                "--players", "300", "--days",   "3",
                                                "--quiet"};

inline std::vector<std::string> with(std::vector<std::string> args,
                                     const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// gasched-run's arguments with its local nodes running the test functions
// (test.*), which the stock gasched-node does not offer.
inline std::vector<std::string> on_test_nodes(std::vector<std::string> args) {
  return with(std::move(args), {"--node-program", GASCHED_NODE_PROGRAM});
}

// The stock node, next to gasched-run as gasched-run itself finds it.
inline std::string stock_node_program() {
  return (fs::path{GASCHED_RUN_PROGRAM}.parent_path() / "gasched-node").string();
}

// Waits until `run`'s stderr matches `pattern`; its text then, or nothing at the deadline.
// (stderr is a file: there is nothing to block on but its growth.)
inline std::optional<std::string> await_err(const run_process& run, const std::regex& pattern,
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

// A program's exit status after `args`, its stderr in `err`; FAILs on a
// timeout or a signal.
inline int exit_status(std::vector<std::string> argv, std::string& err, const scratch& dir) {
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

// The "listening on HOST:PORT" line of a --serve, as HOST:PORT.
inline std::string served_address(run_process& server, const std::string& host) {
  auto first = server.line(30s);
  INFO("stderr:\n" << server.err());
  REQUIRE(first);
  std::smatch m;
  INFO("first line: " << *first);
  REQUIRE(std::regex_search(*first, m, std::regex{"listening on ([0-9.]+):([0-9]+)"}));
  CHECK(m[1].str() == host);
  return "127.0.0.1:" + m[2].str();
}

// Lines "ID" that test.record appended: how often each task started.
inline std::map<int, int> executions(const std::string& path) {
  std::map<int, int> n;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    ++n[std::stoi(line)];
  return n;
}

inline size_t line_count(const std::string& path) {
  size_t n = 0;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

// How many starts beyond one the tasks of `runs` (executions()) had; each
// task started once or twice, never more.
inline int starts_again(const std::map<int, int>& runs) {
  int again = 0;
  for (auto& [id, count] : runs) {
    INFO("task " << id << " ran " << count << " times");
    CHECK(count >= 1);
    CHECK(count <= 2);
    again += count - 1;
  }
  return again;
}

} // namespace gasched::run_test
