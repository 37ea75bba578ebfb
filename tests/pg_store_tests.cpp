// The journal on PostgreSQL (journal/pg_store.hpp) against a real server
// started for the run (pg_support.hpp): the store's contract as the SQLite
// file keeps it, fencing of a scheduler whose generation is over, and the
// errors of bad input.
#include "journal_support.hpp"
#include "held_port.hpp"
#include "pg_support.hpp"

#include "journal/pg_blocks.hpp"
#include "journal/pg_db.hpp"
#include "journal/pg_store.hpp"

#include <caf/all.hpp>

#include "gasched/gasched.hpp"

using namespace gasched;
using namespace gasched::detail;
using namespace gasched::journal_test;

namespace {

std::string bytea_or_null(bytes_view b) {
  if (b.size == 0)
    return "NULL";
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "'\\x";
  for (size_t i = 0; i < b.size; ++i) {
    auto c = static_cast<unsigned char>(b.data[i]);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out + "'::bytea";
}

// The journal at `url`, as this version wrote it, made what layout 3 wrote of
// the same: a row of gasched_tasks per task, its state in it, and a row of
// gasched_ends per end; no blocks.
void to_layout_3(const std::string& url) {
  pg_db db;
  REQUIRE_FALSE(db.connect(url));
  pg_rows r;
  std::string sql = "BEGIN;";
  REQUIRE_FALSE(db.exec("SELECT tasks FROM gasched_news", "read the blocks", &r));
  for (int i = 0; i < r.rows(); ++i) {
    auto bytes = r.bytes(i, 0);
    news_entry e;
    for (size_t at = 0; at < bytes.size();) {
      REQUIRE(next_news(bytes.data(), bytes.size(), at, e));
      sql += "INSERT INTO gasched_tasks(id, fn, args, priority, state, seq, node_failures) "
             "VALUES(" + std::to_string(e.id) + ", " + std::to_string(e.fn) + ", "
             + bytea_or_null(e.args) + ", " + std::to_string(e.priority) + ", 0, "
             + std::to_string(e.id) + ", 0);";
    }
  }
  REQUIRE_FALSE(db.exec("SELECT finished_at, ends FROM gasched_done", "read the ends", &r));
  for (int i = 0; i < r.rows(); ++i) {
    auto bytes = r.bytes(i, 1);
    done_entry e;
    for (size_t at = 0; at < bytes.size();) {
      REQUIRE(next_done(bytes.data(), bytes.size(), at, e));
      std::string text{e.error_text.data, e.error_text.size};
      sql += "INSERT INTO gasched_ends VALUES(" + std::to_string(e.id) + ", "
             + (e.node < 0 ? std::string{"NULL"} : std::to_string(e.node)) + ", "
             + std::to_string(e.outcome) + ", " + bytea_or_null(e.value) + ", "
             + bytea_or_null(e.error) + ", "
             + (text.empty() ? std::string{"NULL"} : "$t$" + text + "$t$") + ", "
             + r.text(i, 0) + ");";
    }
  }
  sql += "UPDATE gasched_tasks t SET state = s.state, seq = COALESCE(s.seq, t.seq), "
         "node_failures = COALESCE(s.node_failures, t.node_failures), node = s.node, "
         "epoch = s.epoch FROM gasched_states s WHERE s.id = t.id;"
         "DROP TABLE gasched_news, gasched_done, gasched_states;"
         "UPDATE gasched_meta SET layout = 3; COMMIT";
  REQUIRE_FALSE(db.exec(sql, "make it layout 3"));
}

} // namespace

namespace {

// Every record kind written, then read back: by this version, or (`old`)
// after the journal was made what layout 3 wrote, upgraded on opening.
void check_round_trip(caf::actor_system& sys, bool old) {
  auto path = pg_server::get().fresh_db();
  {
    journaled_core jc{sys, path, core_limits{1, 0, 2}};
    auto a = jc.add_node("a");
    auto b = jc.add_node("b");
    jc.enqueue(int_args(1));                                        // 1: fails
    jc.enqueue(caf::make_message(std::string{"two"}), 5, "g");     // 2: succeeds
    jc.enqueue(caf::make_message(point{3, 4, "p"}));               // 3: quarantined
    jc.enqueue(caf::make_message(int64_t{4}, int32_t{-4}));        // 4: cancelled running
    jc.enqueue({}, 0, "h");                                        // 5: cancelled pending
    jc.enqueue(int_args(6));                                       // 6: running at the end
    // (Epochs start at the generation's base: a PostgreSQL journal fences
    // from its first run on, so its generation is never 0.)
    auto first = jc.dispatch();
    REQUIRE(first.size() == 2);
    REQUIRE((first[0].first == 2 && first[1].first == 1));
    auto e = first[0].second;
    REQUIRE(jc.core.complete(2, e, no_node, caf::make_message(std::string{"done"}), caf::error{}));
    auto stored = jc.journal->result_of(2);  // not committed yet: from the buffer
    REQUIRE(stored);
    CHECK(stored->value.get_as<std::string>(0) == "done");
    REQUIRE(jc.dispatch().size() == 1);  // 3 on a
    REQUIRE(jc.core.complete(1, e, no_node, {}, make_error(errc::max_retries, "boom")));
    REQUIRE(jc.dispatch().size() == 1);  // 4 on b
    REQUIRE(jc.core.cancel(5));
    CHECK(jc.core.remove_node(a).empty());  // 3 back, 1 node lost
    auto c = jc.add_node("c");
    REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{3, e + 1}});
    CHECK(jc.core.remove_node(c).size() == 1);  // 3 quarantined: 2 nodes lost
    REQUIRE(jc.core.cancel(4));
    REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{6, e}});
    static_cast<void>(b);
    jc.commit();
  }
  if (old)
    to_layout_3(path);
  journaled_core jc{sys, path};
  auto& count = jc.core.count();
  CHECK(count.succeeded == 1);
  CHECK(count.failed == 1);
  CHECK(count.cancelled == 2);
  CHECK(count.quarantined == 1);
  CHECK(count.requeued == 2);  // 3 by a node's death, 6 by the restart
  CHECK(count.ticks == 6);
  CHECK(pending_ids(jc.core) == ids{6});
  auto result = [&](task_id id) {
    auto r = jc.journal->result_of(id);
    INFO("task " << id);
    REQUIRE(r);
    return std::move(*r);
  };
  auto r2 = result(2);
  CHECK((r2.how == outcome_kind::succeeded && r2.function == "g" && r2.priority == 5));
  CHECK((r2.node == "a" && r2.args.get_as<std::string>(0) == "two" && !r2.error));
  CHECK(r2.value.get_as<std::string>(0) == "done");
  auto r1 = result(1);
  CHECK((r1.how == outcome_kind::failed && r1.node == "b"));
  CHECK(describe(r1.error) == "gasched::max_retries: boom");
  auto r3 = result(3);
  CHECK((r3.how == outcome_kind::quarantined && r3.node == "c"));
  CHECK(r3.args.get_as<point>(0) == point{3, 4, "p"});
  CHECK(describe(r3.error) == "gasched::node_failures: 2 nodes died while running it");
  auto r4 = result(4);
  CHECK((r4.how == outcome_kind::cancelled && r4.node == "b" && is(r4.error, errc::cancelled)));
  CHECK((r4.args.get_as<int64_t>(0) == 4 && r4.args.get_as<int32_t>(1) == -4));
  auto r5 = result(5);
  CHECK((r5.how == outcome_kind::cancelled && r5.node.empty() && r5.function == "h"));
  auto t = result(2).to_result("sched");
  CHECK((t.ok() && t.scheduler == "sched" && t.id == 2 && t.task.function == "g"));
  CHECK(is(jc.journal->result_of(6).error(), errc::unknown_task));   // unfinished
  CHECK(is(jc.journal->result_of(99).error(), errc::unknown_task));  // never accepted
  // The tasks of either layout go on: 6 ends, 7 is new and runs.
  jc.add_node("d", 1);
  auto d = jc.dispatch();
  REQUIRE(d.size() == 1);
  REQUIRE(d[0].first == 6);
  jc.commit();  // 6's new state: running on d
  REQUIRE(jc.core.complete(6, d[0].second, no_node, int_args(60), {}));
  jc.enqueue(int_args(7));
  auto d7 = jc.dispatch();
  REQUIRE(d7.size() == 1);
  jc.commit();
  auto again = open_ok(sys, path);
  auto snap = again->take_snapshot();
  REQUIRE(snap.pending.size() == 1);
  CHECK((snap.pending[0].id == 7 && snap.pending[0].running && snap.pending[0].node == "d"));
  CHECK(snap.pending[0].epoch == d7[0].second);
  REQUIRE(again->result_of(6));
  CHECK(again->result_of(6)->value.get_as<int32_t>(0) == 60);
  CHECK(again->result_of(2)->value.get_as<std::string>(0) == "done");
}

} // namespace

TEST_CASE("pg journal: every record kind round-trips, as in an SQLite file", "[pg]") {
  test_system ts;
  check_round_trip(ts.sys, false);
}

TEST_CASE("pg journal: a journal of layout 3 (a row per task) is upgraded on opening: its "
          "tasks, states and results read as before, and what comes after kept",
          "[pg]") {
  test_system ts;
  check_round_trip(ts.sys, true);
}

TEST_CASE("pg journal: a running task's node and lease are kept for its adoption, a requeue "
          "forgets them",
          "[pg]") {
  test_system ts;
  check_dispatch_kept(ts.sys, pg_server::get().fresh_db());
}

TEST_CASE("pg journal: a journal of layout 2 is upgraded on opening, and its running task, kept "
          "without node or lease, may be claimed by any node under an earlier lease",
          "[pg]") {
  test_system ts;
  auto& pg = pg_server::get();
  auto url = pg.fresh_db();
  check_upgrade_keeps_running(ts.sys, url, [&] {
    // As layout 2 left it: no epoch column, no node for a running task.
    to_layout_3(url);
    pg.sql(url.substr(url.rfind('/') + 1),
           "UPDATE gasched_tasks SET node = NULL WHERE state < 2; ALTER TABLE gasched_tasks "
           "DROP COLUMN epoch; UPDATE gasched_meta SET layout = 2");
  });
}

TEST_CASE("pg journal: a block whose count of open tasks is wrong is resumed by its ends, "
          "and the count is set right",
          "[pg]") {
  test_system ts;
  auto& pg = pg_server::get();
  auto url = pg.fresh_db();
  {
    journaled_core jc{ts.sys, url};
    jc.add_node("a", 2);
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    jc.commit();
    auto d = jc.dispatch();
    REQUIRE(d.size() == 2);
    REQUIRE(jc.core.complete(1, d[0].second, no_node, int_args(10), {}));
    jc.commit();
  }
  auto open_count = [&] {
    pg_db db;
    REQUIRE_FALSE(db.connect(url));
    pg_rows r;
    REQUIRE_FALSE(db.exec("SELECT open FROM gasched_news", "read the count", &r));
    REQUIRE(r.rows() == 1);
    return r.int64(0, 0);
  };
  CHECK(open_count() == 1);
  pg.sql(url.substr(url.rfind('/') + 1), "UPDATE gasched_news SET open = 7");
  auto j = open_ok(ts.sys, url);
  auto snap = j->take_snapshot();
  REQUIRE(snap.pending.size() == 1);
  CHECK(snap.pending[0].id == 2);
  REQUIRE(j->result_of(1));
  CHECK(open_count() == 1);
}

TEST_CASE("pg journal: results are kept, pruned after keep_results, notes kept", "[pg]") {
  test_system ts;
  auto url = pg_server::get().fresh_db();
  {
    journaled_core jc{ts.sys, url};
    jc.add_node("n");
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    auto d = jc.dispatch();
    REQUIRE(d.size() == 2);
    REQUIRE(jc.core.complete(1, d[0].second, no_node, int_args(10), {}));
    jc.journal->set_note("k", std::string{"v\0w'\\", 5});
    jc.commit();
  }
  {
    auto j = open_ok(ts.sys, url);
    REQUIRE(j->result_of(1));
    CHECK(j->result_of(1)->value.get_as<int32_t>(0) == 10);
    CHECK(j->note("k") == std::string{"v\0w'\\", 5});
    auto snap = j->take_snapshot();
    REQUIRE(snap.pending.size() == 1);  // 2 ran: back in front
    CHECK((snap.pending[0].id == 2 && snap.pending[0].front));
    CHECK(snap.next_id == 3);
  }
  auto opts = fast();
  opts.keep_results = std::chrono::seconds(0);
  opts.prune_interval = std::chrono::seconds(0);  // every commit prunes
  auto j = open_ok(ts.sys, url, opts);
  REQUIRE(j->result_of(1));  // not pruned before a commit
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE_FALSE(j->commit());
  // 2, accepted in the same commit, has not ended: the block of both stays.
  REQUIRE(j->result_of(1));
  scheduler_core core{core_limits{2, 0, 3}};
  REQUIRE_FALSE(core.restore(j->take_snapshot()));
  core.set_journal(j.get());
  REQUIRE(core.cancel(2));
  REQUIRE_FALSE(j->commit());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE_FALSE(j->commit());
  CHECK(is(j->result_of(1).error(), errc::unknown_task));
  CHECK(is(j->result_of(2).error(), errc::unknown_task));
  CHECK(open_ok(ts.sys, url)->take_snapshot().pending.empty());
}

TEST_CASE("pg journal: tasks that end after a commit wrote them are not resumed, and their "
          "results are kept and pruned",
          "[pg]") {
  test_system ts;
  auto url = pg_server::get().fresh_db();
  {
    journaled_core jc{ts.sys, url};
    auto a = jc.add_node("a", 2);
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    jc.enqueue(int_args(3));
    jc.enqueue(int_args(4));
    jc.commit();  // four pending rows
    auto d = jc.dispatch();
    REQUIRE(d.size() == 2);  // 1 and 2 on a
    jc.commit();  // both running
    REQUIRE(jc.core.complete(1, d[0].second, no_node, int_args(10), {}));
    REQUIRE(jc.core.complete(2, d[1].second, no_node, {}, make_error(errc::max_retries, "x")));
    REQUIRE(jc.core.cancel(3));  // ends pending
    jc.commit();  // three ends of tasks written before
    static_cast<void>(a);
  }
  {
    journaled_core jc{ts.sys, url};
    CHECK(pending_ids(jc.core) == ids{4});
    CHECK(jc.core.count().succeeded == 1);
    auto r1 = jc.journal->result_of(1);
    REQUIRE(r1);
    CHECK((r1->how == outcome_kind::succeeded && r1->node == "a"));
    CHECK((r1->value.get_as<int32_t>(0) == 10 && r1->args.get_as<int32_t>(0) == 1));
    auto r2 = jc.journal->result_of(2);
    REQUIRE(r2);
    CHECK((r2->how == outcome_kind::failed && describe(r2->error) == "gasched::max_retries: x"));
    auto r3 = jc.journal->result_of(3);
    REQUIRE(r3);
    CHECK((r3->how == outcome_kind::cancelled && r3->node.empty()));
    CHECK(is(jc.journal->result_of(4).error(), errc::unknown_task));  // unfinished
  }
  auto opts = fast();
  opts.keep_results = std::chrono::seconds(0);
  opts.prune_interval = std::chrono::seconds(0);  // every commit prunes
  {
    // 4, accepted in the same commit, has not ended: the block stays whole.
    auto j = open_ok(ts.sys, url, opts);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE_FALSE(j->commit());
    for (task_id id : {1, 2, 3})
      CHECK(j->result_of(id));
  }
  {
    auto j = open_ok(ts.sys, url, opts);
    auto snap = j->take_snapshot();
    REQUIRE(snap.pending.size() == 1);
    CHECK(snap.pending[0].id == 4);
    scheduler_core core{core_limits{2, 0, 3}};
    REQUIRE_FALSE(core.restore(std::move(snap)));
    core.set_journal(j.get());
    REQUIRE(core.cancel(4));
    REQUIRE_FALSE(j->commit());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE_FALSE(j->commit());
    for (task_id id : {1, 2, 3, 4})
      CHECK(is(j->result_of(id).error(), errc::unknown_task));
  }
  CHECK(open_ok(ts.sys, url)->take_snapshot().pending.empty());
}

TEST_CASE("pg journal: once another scheduler resumed the journal, the first can never "
          "commit again",
          "[pg]") {
  test_system ts;
  auto url = pg_server::get().fresh_db();
  journaled_core first{ts.sys, url};
  first.enqueue(int_args(1));
  first.commit();
  auto second = open_ok(ts.sys, url);  // raises the fence
  CHECK(second->take_snapshot().pending.size() == 1);
  first.enqueue(int_args(2));
  auto err = first.journal->commit();
  INFO(describe(err));
  CHECK(is(err, errc::standby));
  CHECK(describe(err).find("lost its lease") != std::string::npos);
  CHECK(first.journal->durable_id() == 1);  // task 2 never acknowledged
  // Again and again: still fenced, never written.
  CHECK(is(first.journal->commit(), errc::standby));
  auto third = open_ok(ts.sys, url);
  auto snap = third->take_snapshot();
  REQUIRE(snap.pending.size() == 1);
  CHECK(snap.pending[0].id == 1);
  CHECK(snap.generation > 1);
}

namespace {

// Opening fails at once with journal_error saying `what`, never the password.
void check_pg_refused(caf::actor_system& sys, const std::string& url, const std::string& what) {
  auto j = durable_journal::open(sys, url, fast());
  REQUIRE_FALSE(j);
  auto text = describe(j.error());
  INFO(text);
  CHECK(is(j.error(), errc::journal_error));
  CHECK(text.find(what) != std::string::npos);
  CHECK(text.find("secret") == std::string::npos);
  CHECK(text.find("wrong-pw") == std::string::npos);
}

} // namespace

TEST_CASE("pg journal: bad input gets an error naming it, never the password", "[pg]") {
  test_system ts;
  auto& pg = pg_server::get();
  auto url = pg.fresh_db();
  SECTION("unreachable") {
    held_port closed{false};
    check_pg_refused(ts.sys, "postgresql://gasched:secret@127.0.0.1:"
                               + std::to_string(closed.port) + "/x",
                     "cannot connect to the database");
  }
  SECTION("no such database") {
    check_pg_refused(ts.sys, pg.url("nosuchdb"), "nosuchdb");
  }
  SECTION("wrong URL") {
    check_pg_refused(ts.sys, "postgresql://gasched:secret@127.0.0.1:notaport/x",
                     "cannot connect to the database");
  }
  SECTION("wrong password") {
    check_pg_refused(ts.sys, pg.url("postgres", "wrong-pw"), "password authentication failed");
  }
  SECTION("a journal of another cluster") {
    open_ok(ts.sys, url);
    auto opts = fast();
    opts.cluster = "other";
    auto j = durable_journal::open(ts.sys, url, opts);
    REQUIRE_FALSE(j);
    INFO(describe(j.error()));
    CHECK(describe(j.error()).find("the journal of cluster 'gasched', not of this "
                                   "scheduler's cluster 'other'")
          != std::string::npos);
  }
  SECTION("a journal of an older layout") {
    open_ok(ts.sys, url);
    pg.sql(url.substr(url.rfind('/') + 1), "UPDATE gasched_meta SET layout = 0");
    check_pg_refused(ts.sys, url, "of an older layout (0");
  }
}

TEST_CASE("pg journal: a scheduler whose journal another resumed steps down: it exits with "
          "errc::standby and acknowledges nothing more",
          "[pg]") {
  auto url = pg_server::get().fresh_db();
  caf::actor_system_config cfg;
  gasched::init(cfg);
  caf::actor_system sys{cfg};
  scheduler_options opts;
  opts.journal = url;
  opts.journal_sync = false;
  auto sched = spawn_scheduler(sys, opts);
  if (!sched)
    FAIL(describe(sched.error()));
  caf::scoped_actor self{sys};
  // A scheduler that failed to step down must not hold the system's end up.
  struct killer {
    caf::scoped_actor& self;
    caf::actor target;
    ~killer() {
      self->send_exit(target, caf::exit_reason::kill);
    }
  } guard{self, caf::actor_cast<caf::actor>(*sched)};
  auto submit = [&](int32_t i) -> caf::expected<task_id> {
    caf::expected<task_id> out = caf::error{};
    self->request(*sched, std::chrono::seconds(10), execute_atom::value,
                  task{"f", caf::make_message(i)})
      .receive([&](task_id id) { out = id; }, [&](caf::error& e) { out = std::move(e); });
    return out;
  };
  auto first = submit(1);
  REQUIRE(first);
  CHECK(*first == 1);
  self->monitor(*sched);
  {
    test_system ts;
    auto other = open_ok(ts.sys, url);  // raises the fence
  }
  CHECK_FALSE(submit(2));  // never acknowledged: its commit is fenced
  caf::error reason;
  self->receive([&](caf::down_msg& m) { reason = m.reason; },
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("it did not step down"); });
  INFO(describe(reason));
  CHECK(is(reason, errc::standby));
  // The journal has task 1 only.
  test_system ts;
  auto snap = open_ok(ts.sys, url)->take_snapshot();
  REQUIRE(snap.pending.size() == 1);
  CHECK(snap.pending[0].id == 1);
}
