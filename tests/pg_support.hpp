// The tests' throw-away PostgreSQL cluster (pg_throwaway.hpp), one per test
// program, stopped and removed at the end of the run even when a REQUIRE
// failed. A step that fails throws: Catch fails the test with its command.
// And the cluster of the multi-process tests on it (pg_cluster).
#pragma once

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "gasched/gasched.hpp"
#include "held_port.hpp"
#include "pg_throwaway.hpp"
#include "run_support.hpp"

class pg_server : public pg_throwaway {
public:
  static pg_server& get() {
    static pg_server server;  // destroyed at exit: stops the cluster
    return server;
  }

private:
  pg_server() = default;
};

namespace gasched::run_test {

// Schedulers as users run them (gasched-run --serve) on one fresh journal
// of the throw-away server, each at a fixed address, nodes (test nodes that
// record every start of test.record in `record`) joining all of them, and a
// client's actor system in this process.
struct pg_cluster {
  scratch dir;
  std::string url = pg_server::get().fresh_db();
  std::vector<std::string> addresses;
  std::vector<std::optional<run_process>> servers;
  std::vector<tools::child_process> nodes;
  std::string record = dir.file("runs.txt");
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;

  /// Addresses for `schedulers` schedulers (more: add_addresses).
  explicit pg_cluster(size_t schedulers = 0) {
    REQUIRE(!init(cfg));
    sys.emplace(cfg);
    add_addresses(schedulers);
  }

  void add_addresses(size_t n) {
    for (size_t i = 0; i < n; ++i)
      addresses.push_back("127.0.0.1:" + std::to_string(free_port()));
    servers.resize(addresses.size());
  }

  /// Every address, "A,B,C".
  std::string all() const {
    std::string list;
    for (auto& a : addresses)
      list += (list.empty() ? "" : ",") + a;
    return list;
  }

  /// Scheduler i: gasched-run --listen ADDRESS --serve --nodes 0 --journal
  /// URL (`journal`, or the cluster's) and `extra`; waits until it says its
  /// role, and returns that line (never with the password).
  std::string serve(size_t i, const std::vector<std::string>& extra = {},
                    const std::string& journal = {}) {
    auto args = with({"--listen", addresses[i], "--serve", "--nodes", "0", "--journal",
                      journal.empty() ? url : journal},
                     extra);
    servers[i].emplace(dir, on_test_nodes(args));
    served_address(*servers[i], "127.0.0.1");
    auto role = await_err(*servers[i], std::regex{"role: [^\n]*\n"});
    INFO("stderr of " << addresses[i] << ":\n" << servers[i]->err());
    REQUIRE(role);
    CHECK(role->find("secret") == std::string::npos);
    return *role;
  }

  /// `n` nodes named n1, n2, ..., joining every scheduler (--join A,B,C).
  void start_nodes(size_t n, const std::vector<std::string>& extra = {}) {
    for (size_t i = 1; i <= n; ++i) {
      auto argv = with({GASCHED_NODE_PROGRAM, "--join", all(), "--name", "n" + std::to_string(i),
                        "--log", "off"},
                       extra);
      nodes.push_back(tools::child_process::start(argv, true));
      REQUIRE(nodes.back().read_line(20s));
    }
  }

  scheduler_actor at(size_t i) {
    auto a = parse_address(addresses[i]);
    auto s = connect_scheduler(*sys, a->host, a->port);
    REQUIRE(s);
    return *s;
  }

  /// Scheduler i's stats, or nothing if it does not answer in time (it is gone).
  std::optional<stats> stats_of(size_t i) {
    auto a = parse_address(addresses[i]);
    auto s = connect_scheduler(*sys, a->host, a->port);
    if (!s)
      return std::nullopt;
    caf::scoped_actor self{*sys};
    std::optional<stats> out;
    self->request(*s, 5s, stats_atom::value)
      .receive([&](stats& x) { out = std::move(x); }, [](caf::error&) {});
    return out;
  }

  /// `n` tasks test.record(i, ms, record), i = 1..n, submitted to scheduler 0.
  std::vector<task_id> submit(int n, int ms) {
    blocking_client client{*sys, at(0)};
    std::vector<task_id> ids;
    for (int i = 1; i <= n; ++i) {
      auto id = client.execute(task{"test.record", caf::make_message(i, ms, record)});
      REQUIRE(id);
      ids.push_back(*id);
    }
    return ids;
  }

  /// Waits (bounded) until `k` task starts were recorded.
  void await_started(size_t k) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (line_count(record) < k) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(10ms);  // the file grows as tasks start
    }
  }

  /// Every task's result from scheduler i, each once, right; each ran, at
  /// most twice, and at most `max_again` ran twice. Returns how many did.
  int check_every_result(size_t i, const std::vector<task_id>& ids, int max_again) {
    blocking_client client{*sys, at(i), 30s, 60s};
    for (size_t k = 0; k < ids.size(); ++k) {
      auto r = client.await(ids[k]);
      INFO("task " << k + 1);
      REQUIRE(r);
      REQUIRE(r->ok());
      CHECK(r->value.get_as<int32_t>(0) == static_cast<int32_t>(k + 1));
    }
    auto runs = executions(record);
    CHECK(runs.size() == ids.size());
    auto again = starts_again(runs);
    CHECK(again <= max_again);
    return again;
  }
};

} // namespace gasched::run_test
