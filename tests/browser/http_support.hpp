// What the HTTP tests share: GET requests with bounded waits, and running
// programs (python3, chromium, gasched-ctl) to their end with a deadline.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>

#include "child_process.hpp"
#include "gasched/http.hpp"

namespace gasched::testing {

struct http_reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

/// GET `path` from `srv`; fails the test when no answer comes within 10 s.
inline http_reply http_get(const http_server& srv, const std::string& path) {
  httplib::Client cli(srv.host(), srv.port());
  cli.set_connection_timeout(5);
  cli.set_read_timeout(10);
  auto res = cli.Get(path.c_str());
  if (!res)
    FAIL("GET " << path << ": " << httplib::to_string(res.error()));
  return {res->status, res->body, res->get_header_value("Content-Type")};
}

/// The full path of `name`: Debian's in /usr/bin first (the one its
/// packages such as python3-prometheus-client extend), else the first on
/// PATH. Fails the test when it is missing: a missing tool must not make a
/// test pass.
inline std::string find_program(const std::string& name, const std::string& package) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs{std::string{"/usr/bin:"} + (path ? path : "/bin")};
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  FAIL(name << " is not installed: apt-get install " << package);
  return {};
}

struct program_run {
  int exit_code = -1;  ///< -1 when killed by a signal
  std::string out;     ///< its stdout
};

/// Runs argv (argv[0] a path) to its end, at most `limit`; stderr goes to
/// `stderr_path` when given, else nowhere.
inline program_run run_program(const std::vector<std::string>& argv,
                               std::chrono::seconds limit = std::chrono::seconds(60),
                               const std::string& stderr_path = {}) {
  using namespace std::chrono;
  auto child = stderr_path.empty() ? tools::child_process::start(argv, true)
                                   : tools::child_process::start_logged(argv, stderr_path);
  auto deadline = steady_clock::now() + limit;
  auto left = [&] {
    return std::max(milliseconds(0), duration_cast<milliseconds>(deadline - steady_clock::now()));
  };
  program_run result;
  while (auto line = child.read_line(left()))
    result.out += *line + "\n";
  auto status = child.wait_exit(left());
  if (!status)
    FAIL(argv[0] << " did not end within " << limit.count() << " s; its output:\n"
                 << result.out);
  result.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  return result;
}

} // namespace gasched::testing
