// Faults of the database under schedulers sharing a PostgreSQL journal, as
// users meet them: real gasched-run --serve processes, real nodes joined with
// --join A,B, and
//   - the database restarted (pg_ctl restart -m immediate) under a batch of a
//     gasched-run --connect A,B client: every line's result once;
//   - the active cut from the database by the fault proxy while its nodes
//     still reach it: it steps down by itself within about its lease, says
//     so, and a standby takes over;
//   - bad input to gasched-run --serve --journal postgresql://...: one stderr
//     line naming what is wrong, and a non-zero exit.
#include <algorithm>
#include <cstdio>
#include <future>
#include <regex>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <nlohmann/json.hpp>

#include "gasched/active_search.hpp"
#include "gasched/gasched.hpp"
#include "journal/durable_journal.hpp"
#include "journal/pg_leader.hpp"
#include "journal/pg_store.hpp"
#include "held_port.hpp"
#include "pg_support.hpp"
#include "run_support.hpp"
#include "tcp_proxy.hpp"

using namespace std::chrono_literals;
using namespace gasched;
using namespace gasched::run_test;
using json = nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Schedulers on one journal (each may reach it by its own URL: through a
// proxy), nodes joining all of them, a client in this process.
struct shared_cluster : pg_cluster {
  // `urls[i]`: how scheduler i reaches the journal; the first one is active.
  void start(const std::vector<std::string>& urls, std::vector<std::string> extra = {}) {
    add_addresses(urls.size());
    for (size_t i = 0; i < urls.size(); ++i) {
      auto role = serve(i, extra, urls[i]);
      INFO(role);
      REQUIRE(role.find(i == 0 ? "role: active" : "role: standby") != std::string::npos);
    }
    start_nodes(2);
  }

  // Waits (bounded) until scheduler i says it is active at a generation
  // above `above`.
  void await_active(size_t i, uint32_t above, std::chrono::seconds within = 30s) {
    auto deadline = clock_type::now() + within;
    for (;;) {
      auto s = stats_of(i);
      if (s && s->role == "active" && s->generation > above)
        return;
      if (clock_type::now() >= deadline)
        FAIL("scheduler " << addresses[i] << " did not become active; its stderr:\n"
                          << servers[i]->err());
      std::this_thread::sleep_for(50ms);  // stats are polled: no message says when
    }
  }

  // The process of scheduler i exits by itself (bounded): its status.
  int exits(size_t i, std::chrono::seconds within = 30s) {
    return servers[i]->finish(within);
  }
};

// The URL `url` with its port replaced by `port` (to go through a proxy).
std::string via_port(const std::string& url, uint16_t port) {
  return std::regex_replace(url, std::regex{":[0-9]+/"}, ":" + std::to_string(port) + "/");
}

} // namespace

// -- the database restarted under load ------------------------------------------------

TEST_CASE("pg faults: the database restarted (pg_ctl restart -m immediate) under a batch: the "
          "active steps down saying so, the standby takes over once the database is back, "
          "and the gasched-run --connect A,B client's --out holds each line's result once",
          "[pg][faults]") {
  auto& pg = pg_server::get();
  shared_cluster c;
  c.start({c.url, c.url});
  c.await_active(0, 0);
  // 600 lines of 10 ms on 2 nodes of 2 slots: about 1.5 s undisturbed.
  const int n = 600;
  std::string tasks;
  for (int i = 1; i <= n; ++i)
    tasks += "{\"fn\": \"test.record\", \"args\": [" + std::to_string(i) + ", 10, \""
             + c.record + "\"]}\n";
  auto out = c.dir.file("out.jsonl");
  run_process client{c.dir, {"--connect", c.all(), "--tasks",
                             c.dir.file("tasks.jsonl", tasks), "--out", out, "-q"}};
  c.await_started(100);
  auto t0 = clock_type::now();
  pg.restart_immediate();
  auto back = seconds_since(t0);
  // The active lost its session, its lock and its lease with the restart.
  auto status = c.exits(0);
  INFO("the first scheduler's stderr:\n" << c.servers[0]->err());
  CHECK(status != 0);
  CHECK(c.servers[0]->err().find("stepping down") != std::string::npos);
  c.await_active(1, 1);
  auto taken = seconds_since(t0);
  std::printf("pg faults: database restarted in %.2f s (pg_ctl -w restart -m immediate), a "
              "standby active %.2f s after the restart began\n",
              back, taken);
  auto done = client.finish(120s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(done == 0);
  // Each line's result once in --out.
  std::multiset<int> values;
  std::ifstream in{out};
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line);
    INFO(line);
    REQUIRE(j.contains("value"));
    values.insert(j["value"].get<int>());
  }
  CHECK(values.size() == static_cast<size_t>(n));
  CHECK(std::set<int>(values.begin(), values.end()).size() == static_cast<size_t>(n));
  // Every line ran, none more than twice (again: those whose end the
  // journal had not committed when the database went away).
  auto runs = executions(c.record);
  CHECK(runs.size() == static_cast<size_t>(n));
  std::printf("pg faults: %d of %d lines ran twice across the database restart\n",
              starts_again(runs), n);
  c.servers[1]->signal(SIGTERM);
  CHECK(c.servers[1]->finish(30s) == 0);
}

// -- the active cut from the database ---------------------------------------------------

TEST_CASE("pg faults: the active cut from the database by the proxy (blackholed with its "
          "sockets kept open, or closed) while its nodes reach it steps down by itself within "
          "about its lease, saying so, and the standby takes over and every task ends with one "
          "result",
          "[pg][faults]") {
  bool close = GENERATE(false, true);
  INFO((close ? "closed" : "blackholed"));
  shared_cluster c;
  testing::tcp_proxy proxy{pg_server::get().port()};
  // The active reaches the database through the proxy, the standby directly.
  c.start({via_port(c.url, proxy.port()), c.url}, {"--lease-time", "1s"});
  c.await_active(0, 0);
  const int n = 40;  // 150 ms each on 2 nodes of 2 slots: about 1.5 s
  auto ids = c.submit(n, 150);
  c.await_started(8);
  auto t0 = clock_type::now();
  // Blackholed: no byte passes, no socket closes, no error comes: only the
  // active's own deadline for its renewal notices.
  proxy.blackhole();
  if (close)
    proxy.close_all();
  // A client awaits a result that finished before the cut: the scheduler
  // reads it from the journal, on its own thread, which waits for the cut
  // database; it must step down all the same (and fail the await).
  auto early = c.at(0);
  std::optional<caf::expected<task_result>> awaited;
  std::thread asker{[&] {
    blocking_client client{*c.sys, early, 30s, 30s};
    awaited = client.await(ids[0]);
  }};
  auto status = c.exits(0, 30s);
  asker.join();
  auto gone = seconds_since(t0);
  auto err = c.servers[0]->err();
  INFO("the cut scheduler's stderr:\n" << err);
  CHECK(status != 0);
  CHECK(std::regex_search(err, std::regex{"stepping down: [^\n]*journal [^\n]*cannot renew "
                                          "the lease"}));
  CHECK(err.find("secret") == std::string::npos);
  REQUIRE(awaited);
  if (*awaited)  // answered before the commit got stuck
    CHECK((*awaited)->value.get_as<int32_t>(0) == 1);
  c.await_active(1, 1);
  auto taken = seconds_since(t0);
  // Again: those running at the cut, and those the nodes ran for the cut
  // one until it stepped down (about its lease: 4 slots, 150 ms).
  auto again = c.check_every_result(1, ids, 4 + 4 * 1000 / 150);
  std::printf("pg faults: the active cut from the database (%s) exited %.2f s after the cut "
              "(lease 1 s); the standby active %.2f s after it; %d of %d tasks ran twice\n",
              close ? "closed" : "blackholed", gone, taken, again, n);
  c.servers[1]->signal(SIGTERM);
  CHECK(c.servers[1]->finish(30s) == 0);
}

// -- a standby cut from the database ---------------------------------------------------

// A standby's queries (the lock it tries, the lease it watches) each end
// within two leases, answered or not: cut from the database it retries and
// can stop, where it waited in one query for as long as the cut lasted.
TEST_CASE("pg faults: a standby cut from the database by the proxy (blackholed) stops when "
          "told, within its query bound",
          "[pg][faults]") {
  auto url = pg_server::get().fresh_db();
  auto active = detail::pg_leader::open({url, "127.0.0.1:1", 500ms});
  REQUIRE(active);
  REQUIRE((*active)->holds());
  testing::tcp_proxy proxy{pg_server::get().port()};
  auto standby = detail::pg_leader::open({via_port(url, proxy.port()), "127.0.0.1:2", 500ms});
  REQUIRE(standby);
  REQUIRE_FALSE((*standby)->holds());
  // Cut before its thread starts: its first try of the lock is sent into
  // the cut link and waits there.
  proxy.blackhole();
  (*standby)->start([] {}, [](caf::error) {});
  auto t0 = clock_type::now();
  auto stopped = std::async(std::launch::async, [&] { standby->reset(); });
  if (stopped.wait_for(10s) != std::future_status::ready) {
    proxy.pass();  // so that the test ends
    stopped.wait();
    FAIL("a standby cut from the database did not stop within 10 s (lease 500 ms)");
  }
  auto took = seconds_since(t0);
  std::printf("pg faults: a standby cut from the database stopped %.2f s after it was told "
              "(lease 500 ms, each query bound to 1 s)\n", took);
  proxy.pass();
}

// -- bad input -----------------------------------------------------------------------

namespace {

// gasched-run --serve on `url` (and `extra`) is refused: a non-zero exit and
// one line on stderr that says `what`, never the password.
void check_serve_refused(const std::string& url, const std::string& what,
                         std::vector<std::string> extra = {}) {
  scratch dir;
  std::string err;
  auto argv = with({GASCHED_RUN_PROGRAM, "--listen", "127.0.0.1:" + std::to_string(free_port()),
                    "--serve", "--nodes", "0", "--journal", url},
                   extra);
  auto status = exit_status(argv, err, dir);
  INFO("stderr: " << err);
  CHECK(status != 0);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(err.find(what) != std::string::npos);
  CHECK(err.find("secret") == std::string::npos);
  CHECK(err.find("wrong-pw") == std::string::npos);
}

// A journal of cluster "gasched" in `url`, made as a scheduler makes it.
void make_journal(const std::string& url) {
  caf::actor_system_config cfg;
  REQUIRE(!init(cfg));
  caf::actor_system sys{cfg};
  auto j = detail::durable_journal::open(sys, url, detail::journal_options{});
  REQUIRE(j);
}

} // namespace

TEST_CASE("pg faults: gasched-run --serve --journal postgresql://... refuses bad input with one "
          "stderr line naming it and a non-zero exit",
          "[pg][faults]") {
  auto& pg = pg_server::get();
  auto url = pg.fresh_db();
  auto db = url.substr(url.rfind('/') + 1);
  SECTION("an unreachable database") {
    check_serve_refused("postgresql://gasched:secret@127.0.0.1:" + std::to_string(free_port())
                          + "/x",
                        "cannot connect to the database: connection to server at \"127.0.0.1\"");
  }
  SECTION("a malformed URL") {
    check_serve_refused("postgresql://gasched:secret@127.0.0.1:notaport/x",
                        "invalid integer value \"notaport\" for connection option \"port\"");
    check_serve_refused("postgresql://gasched:secret@[::1/x", "not a valid PostgreSQL URL");
  }
  SECTION("no such database") {
    check_serve_refused(pg.url("nosuchdb"), "database \"nosuchdb\" does not exist");
  }
  SECTION("a wrong password") {
    check_serve_refused(pg.url(db, "wrong-pw"),
                        "password authentication failed for user \"gasched\"");
  }
  SECTION("a database of another cluster, untouched") {
    make_journal(url);
    check_serve_refused(url, "the journal of cluster 'gasched', not of this scheduler's cluster "
                             "'other'",
                        {"--journal-cluster", "other"});
    // Refused before the lease: not even its tables were made.
    pg.sql(db, "DO $$ BEGIN IF to_regclass('gasched_lease') IS NOT NULL THEN RAISE EXCEPTION "
               "'the lease was touched'; END IF; END $$");
  }
  SECTION("a journal of an older layout") {
    make_journal(url);
    pg.sql(db, "UPDATE gasched_meta SET layout = 1");
    check_serve_refused(url, "a gasched journal of an older layout (1, written by gasched");
  }
  SECTION("a lease held by a scheduler of another version") {
    auto held = detail::pg_leader::open({url, "127.0.0.1:1", 1000ms});
    REQUIRE(held);
    REQUIRE((*held)->holds());
    pg.sql(db, "UPDATE gasched_lease SET version = '0.0.0-old'");
    check_serve_refused(url, "its lease is held by gasched 0.0.0-old (the active scheduler at "
                             "127.0.0.1:1), this is gasched "
                               + std::string{detail::gasched_version()});
  }
}
