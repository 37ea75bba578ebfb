// What the HTTP tests share: GET requests with bounded waits, and running
// programs (python3, chromium, gasched-ctl) to their end with a deadline.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
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

/// GET `path` from `srv` (with `headers`, e.g. a Host of their own); fails
/// the test when no answer comes within 10 s.
inline http_reply http_get(const http_server& srv, const std::string& path,
                           const httplib::Headers& headers = {}) {
  httplib::Client cli(srv.host(), srv.port());
  cli.set_connection_timeout(5);
  cli.set_read_timeout(10);
  auto res = cli.Get(path.c_str(), headers);
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

/// Every sample Prometheus's parser finds at `source` (a URL or a file), as
/// "name{label=value,...}" -> {family type, value}. python3 or
/// prometheus_client missing is a failure.
inline std::map<std::string, std::pair<std::string, double>>
parse_metrics(const std::string& source) {
  static const char* script = R"(
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
src = sys.argv[1]
if src.startswith('http'):
    text = urllib.request.urlopen(src, timeout=10).read().decode()
else:
    text = open(src).read()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))
        name = s.name + ('{' + labels + '}' if labels else '')
        print(family.type, name, repr(float(s.value)), sep='\t')
)";
  auto err_path = (std::filesystem::temp_directory_path()
                   / ("gasched-python-" + std::to_string(getpid()) + ".err")).string();
  auto run = run_program({find_program("python3", "python3-prometheus-client"), "-c", script,
                          source}, std::chrono::seconds(60), err_path);
  std::stringstream err;
  err << std::ifstream{err_path}.rdbuf();
  std::filesystem::remove(err_path);
  INFO("python3 said:\n" << run.out << err.str());
  REQUIRE(run.exit_code == 0);  // also when prometheus_client is missing
  std::map<std::string, std::pair<std::string, double>> result;
  std::istringstream lines{run.out};
  std::string type, name, value;  // tab-separated: label values may hold spaces
  while (std::getline(lines, type, '\t') && std::getline(lines, name, '\t')
         && std::getline(lines, value))
    result[name] = {type, std::stod(value)};
  REQUIRE(!result.empty());
  return result;
}

} // namespace gasched::testing
