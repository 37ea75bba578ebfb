// The HTTP endpoint's timing histograms after a workload whose timing is
// bounded, and its Host check (the defence against DNS rebinding).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/host_check.hpp"
#include "http_endpoint_support.hpp"

using namespace gasched;
using namespace gasched::testing;
using json = nlohmann::json;

namespace {

using metrics = std::map<std::string, std::pair<std::string, double>>;

// A histogram family's buckets by bound, after checking what Prometheus
// requires of them: cumulative, +Inf last and equal to _count.
std::vector<std::pair<double, double>> buckets_of(const metrics& m, const std::string& family) {
  INFO(family);
  std::vector<std::pair<double, double>> result;
  auto prefix = family + "_bucket{le=";
  for (auto& [name, sample] : m)
    if (name.rfind(prefix, 0) == 0) {
      CHECK(sample.first == "histogram");
      auto le = name.substr(prefix.size(), name.size() - prefix.size() - 1);
      result.emplace_back(std::stod(le), sample.second);  // "+Inf" too
    }
  std::sort(result.begin(), result.end());
  REQUIRE(result.size() == duration_histogram::bounds_us.size() + 1);
  CHECK(result.front().first == 0.0001);
  CHECK(std::isinf(result.back().first));
  for (size_t i = 1; i < result.size(); ++i)
    CHECK(result[i - 1].second <= result[i].second);
  CHECK(result.back().second == m.at(family + "_count").second);
  return result;
}

double bucket(const std::vector<std::pair<double, double>>& buckets, double le) {
  for (auto& [bound, n] : buckets)
    if (bound == le)
      return n;
  FAIL("no bucket le=" << le);
  return 0;
}

} // namespace

TEST_CASE("timing histograms count each task that ended with a result", "[http][timing]") {
  // One slot, 4 tasks of 30 ms accepted at once: task k waits at least
  // k x 30 ms, runs at least 30 ms, and has taken (k + 1) x 30 ms at its result.
  cluster c;
  auto sched = one_node_scheduler(c, 1);
  std::vector<task> batch;
  for (int32_t i = 0; i < 4; ++i)
    batch.push_back(make_task("test.sleep", caf::make_message(i, int32_t{30})));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(batch)));
  c.execute(sched, make_task("test.permanent"));
  c.results(5);
  auto srv = serve(c, sched);

  auto m = parse_metrics(srv.url() + "metrics");
  auto wait = buckets_of(m, "gasched_task_queue_wait_seconds");
  auto run = buckets_of(m, "gasched_task_run_seconds");
  auto total = buckets_of(m, "gasched_task_duration_seconds");
  for (auto family : {"gasched_task_queue_wait_seconds", "gasched_task_run_seconds",
                      "gasched_task_duration_seconds"})
    CHECK(m[std::string{family} + "_count"].second == 5);  // succeeded + failed
  CHECK(bucket(wait, 0.01) <= 2);  // the first sleep; the failure only if accepted late
  CHECK(m["gasched_task_queue_wait_seconds_sum"].second >= 0.179);
  CHECK(bucket(run, 0.01) <= 1);  // the failure only
  CHECK(m["gasched_task_run_seconds_sum"].second >= 0.119);
  CHECK(bucket(total, 0.01) <= 1);
  CHECK(m["gasched_task_duration_seconds_sum"].second >= 0.299);
  CHECK(bucket(total, 3600) == 5);

  auto s = json::parse(http_get(srv, "/api/stats").body);
  for (auto name : {"queue_wait", "run_time", "end_to_end"}) {
    INFO(name);
    auto& h = s[name];
    CHECK(h["count"] == 5);
    CHECK(h["bounds_us"].size() == duration_histogram::bounds_us.size());
    REQUIRE(h["buckets"].size() == duration_histogram::bounds_us.size() + 1);
    uint64_t n = 0;
    for (auto& x : h["buckets"])
      n += x.get<uint64_t>();
    CHECK(n == 5);
  }
  // Run times are the nodes' own, within dispatch to result.
  CHECK(s["end_to_end"]["sum_us"].get<uint64_t>()
        >= s["queue_wait"]["sum_us"].get<uint64_t>() + s["run_time"]["sum_us"].get<uint64_t>());
}

namespace {

// GET `path` at address:port with this Host header.
int status_with_host(const std::string& address, uint16_t port, const std::string& host,
                     std::string* body = nullptr, const std::string& path = "/api/stats") {
  httplib::Client cli(address, port);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(10);
  auto res = cli.Get(path.c_str(), {{"Host", host}});
  if (!res)
    FAIL("GET " << path << " with Host " << host << ": " << httplib::to_string(res.error()));
  if (body)
    *body = res->body;
  return res->status;
}

} // namespace

TEST_CASE("a loopback endpoint answers only to loopback names in Host", "[http][host]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(1)));
  auto srv = serve(c, sched);
  auto port = srv.port();
  auto p = ":" + std::to_string(port);
  CHECK(http_get(srv, "/api/stats").status == 200);  // Host 127.0.0.1:port
  for (auto host : std::vector<std::string>{"localhost", "localhost" + p, "LocalHost" + p,
                                            "127.0.0.1", "[::1]", "[::1]" + p})
    CHECK(status_with_host("127.0.0.1", port, host) == 200);
  std::string body;
  CHECK(status_with_host("127.0.0.1", port, "evil.example", &body) == 403);
  CHECK_THAT(body, Catch::Contains("evil.example") && Catch::Contains("DNS rebinding"));
  for (auto host : std::vector<std::string>{"evil.example" + p, "localhost.evil.example",
                                            "127.0.0.1.nip.io" + p, "127.0.0.2", "[::2]" + p})
    CHECK(status_with_host("127.0.0.1", port, host) == 403);
  for (auto path : {"/", "/metrics", "/api/nodes", "/api/tasks", "/nowhere"})
    CHECK(status_with_host("127.0.0.1", port, "evil.example", nullptr, path) == 403);
  CHECK(http_get(srv, "/api/stats", {{"Host", "localhost"}, {"Host", "evil.example"}}).status
        == 403);  // two Host headers: which one a proxy believes is unknown
}

TEST_CASE("beyond loopback the endpoint answers to its address and to allowed_hosts",
          "[http][host]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(1)));
  http_options opts;
  // Every interface, only for this test's few requests: a request through
  // 127.0.0.3 arrives at an address that is neither the bound one nor a name.
  opts.host = "0.0.0.0";
  opts.allowed_hosts = {"sched.example:8080", "Other.Example"};
  auto srv = serve(c, sched, opts);
  auto port = srv.port();
  CHECK(status_with_host("127.0.0.3", port, "127.0.0.3:" + std::to_string(port)) == 200);
  CHECK(status_with_host("127.0.0.3", port, "127.0.0.4") == 403);
  CHECK(status_with_host("127.0.0.3", port, "0.0.0.0") == 403);
  CHECK(status_with_host("127.0.0.3", port, "sched.example") == 200);  // ports not compared
  CHECK(status_with_host("127.0.0.3", port, "other.example:1") == 200);
  CHECK(status_with_host("127.0.0.3", port, "localhost") == 200);
  CHECK(status_with_host("127.0.0.3", port, "third.example") == 403);
}

TEST_CASE("host_part strips ports brackets and case", "[http][host]") {
  using detail::http::host_part;
  CHECK(host_part("Example.COM:8080") == "example.com");
  CHECK(host_part("[::1]:8080") == "::1");
  CHECK(host_part("[::1]") == "::1");
  CHECK(host_part("::1") == "::1");
  CHECK(host_part("::ffff:127.0.0.1") == "127.0.0.1");
  CHECK(host_part("fe80::1%eth0") == "fe80::1");
  CHECK(host_part("") == "");
  detail::http::host_check check{"127.0.0.1", {}};
  CHECK(check.allows("", ""));  // no Host: not from a browser
  CHECK(check.allows("[::1]:80", "127.0.0.1"));
  CHECK_FALSE(check.allows(":80", "127.0.0.1"));
  CHECK_FALSE(check.allows("[evil.example]", "127.0.0.1"));
}
