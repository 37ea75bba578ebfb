// Standby schedulers on one PostgreSQL journal, as users run them: real
// gasched-run --serve processes on a throw-away server, real nodes that join
// with --join A,B,C, a client in this process; the active is killed (kill
// -9) or hung (kill -STOP) mid-batch, a standby takes over, and every task
// ends with one result.
#include <algorithm>
#include <map>
#include <regex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "gasched/active_search.hpp"
#include "gasched/gasched.hpp"
#include "journal/pg_leader.hpp"
#include "journal/pg_store.hpp"
#include "held_port.hpp"
#include "pg_support.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched;
using namespace gasched::run_test;

namespace {

// Schedulers sharing one journal, nodes joining all of them, a client.
struct cluster : pg_cluster {
  // `n` schedulers: the first active, the others standbys.
  void start(size_t n, std::vector<std::string> extra = {}) {
    add_addresses(n);
    for (size_t i = 0; i < n; ++i) {
      auto role = serve(i, extra);
      INFO(role);
      CHECK(role.find(i == 0 ? "role: active, generation 1" : "role: standby")
            != std::string::npos);
      if (i > 0)
        CHECK(role.find("active at " + addresses[0]) != std::string::npos);
    }
    start_nodes(2);
  }

  // Scheduler i's stats; it must answer.
  stats stats_ok(size_t i) {
    auto s = stats_of(i);
    if (!s)
      FAIL("no stats from " << addresses[i]);
    return *s;
  }

  // The active among the schedulers still up (after a takeover).
  size_t active_one(std::chrono::seconds within = 30s) {
    std::vector<address> list;
    for (auto& a : addresses)
      list.push_back(*parse_address(a));
    active_search_options o;
    o.give_up = within;
    address found;
    auto s = connect_scheduler(*sys, list, o, &found);
    REQUIRE(s);
    for (size_t i = 0; i < addresses.size(); ++i)
      if (addresses[i] == to_string(found))
        return i;
    FAIL("no such address " << to_string(found));
    return 0;
  }
};

} // namespace

TEST_CASE("pg standbys: kill -9 of the active mid-batch: a standby takes over under a new "
          "generation, the nodes follow, every task ends with one result, the other standby "
          "names the new active",
          "[pg][standby]") {
  cluster c;
  c.start(3);
  auto before = c.stats_ok(0);
  CHECK(before.role == "active");
  CHECK(before.generation == 1);
  auto standbys = before.standbys;  // listed once they registered
  for (auto deadline = std::chrono::steady_clock::now() + 10s; standbys.size() < 2;
       standbys = c.stats_ok(0).standbys) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(50ms);  // they register every quarter of the lease
  }
  std::sort(standbys.begin(), standbys.end());
  auto expected = std::vector<std::string>{c.addresses[1], c.addresses[2]};
  std::sort(expected.begin(), expected.end());
  CHECK(standbys == expected);
  const int n = 40;  // 150 ms each on 4 slots: about 1.5 s
  auto ids = c.submit(n, 150);
  c.await_started(8);
  kill(c.servers[0]->pid(), SIGKILL);
  c.servers[0].reset();
  REQUIRE(line_count(c.record) < static_cast<size_t>(n));
  auto now = c.active_one();
  REQUIRE(now != 0);
  auto after = c.stats_ok(now);
  CHECK(after.role == "active");
  CHECK(after.generation == 2);
  CHECK(after.takeovers == 1);
  CHECK(after.active == c.addresses[now]);
  // None again: the nodes lived, so those running at the kill are adopted,
  // and those whose end the killed one got but had not committed yet are
  // offered again by their nodes (kept until acknowledged) and taken.
  c.check_every_result(now, ids, 0);
  // The other standby refuses work, naming the new active.
  size_t other = now == 1 ? 2 : 1;
  auto s = c.stats_ok(other);
  CHECK(s.role == "standby");
  CHECK(s.active == c.addresses[now]);
  blocking_client client{*c.sys, c.at(other)};
  auto refused = client.execute(task{"test.record", caf::make_message(99, 1, c.record)});
  REQUIRE(!refused);
  INFO(describe(refused.error()));
  CHECK(is(refused.error(), errc::standby));
  auto named = standby_active(refused.error());
  REQUIRE(named);
  CHECK(to_string(*named) == c.addresses[now]);
  for (auto i : {now, other}) {
    c.servers[i]->signal(SIGTERM);
    CHECK(c.servers[i]->finish(30s) == 0);
  }
}

TEST_CASE("pg standbys: an active hung (kill -STOP) beyond its lease is replaced, and woken "
          "it steps down and exits saying so, and every task ends with one result",
          "[pg][standby]") {
  cluster c;
  c.start(2, {"--lease-time", "500ms"});
  const int n = 40;
  auto ids = c.submit(n, 150);
  c.await_started(8);
  kill(c.servers[0]->pid(), SIGSTOP);
  // Bounded: the standby takes over about a lease after the hang.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (c.stats_ok(1).role != "active") {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(c.servers[0]->pid(), SIGCONT);
      FAIL("the standby did not take over; its stderr:\n" << c.servers[1]->err());
    }
    std::this_thread::sleep_for(50ms);  // stats are polled: no message says when
  }
  CHECK(c.stats_ok(1).generation == 2);
  kill(c.servers[0]->pid(), SIGCONT);
  auto status = c.servers[0]->finish(30s);
  INFO("stderr of the woken one:\n" << c.servers[0]->err());
  CHECK(status != 0);
  CHECK(c.servers[0]->err().find("stepping down") != std::string::npos);
  // Again: those running at the hang, and those the nodes started for the
  // hung one until they declared it down (about a second: 4 slots, 150 ms).
  c.check_every_result(1, ids, 4 + 4 * 1000 / 150);
  c.servers[1]->signal(SIGTERM);
  CHECK(c.servers[1]->finish(30s) == 0);
}

TEST_CASE("pg standbys: a lease held by a scheduler of another gasched version is refused, "
          "naming both versions",
          "[pg][standby]") {
  auto& pg = pg_server::get();
  auto url = pg.fresh_db();
  auto held = detail::pg_leader::open({url, "127.0.0.1:1", 1000ms});
  REQUIRE(held);
  REQUIRE((*held)->holds());
  pg.sql(url.substr(url.rfind('/') + 1), "UPDATE gasched_lease SET version = '0.0.0-old'");
  caf::actor_system_config cfg;
  REQUIRE(!init(cfg));
  caf::actor_system sys{cfg};
  scheduler_options opts;
  opts.journal = url;
  opts.advertise = "127.0.0.1:2";
  auto sched = spawn_scheduler(sys, opts);
  REQUIRE(!sched);
  auto text = describe(sched.error());
  INFO(text);
  CHECK(text.find("gasched 0.0.0-old") != std::string::npos);
  CHECK(text.find(std::string{"gasched "} + detail::gasched_version()) != std::string::npos);
  CHECK(text.find("127.0.0.1:1") != std::string::npos);
  CHECK(text.find("secret") == std::string::npos);
}
