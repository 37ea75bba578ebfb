// The journal's file layout: one row per task, and the end of a task accepted
// by an earlier commit one row of `ends`; journals of the earlier formats (a
// table of tasks and a table of results; ends updated in place) upgraded on
// opening.
#include <sqlite3.h>

#include "journal_support.hpp"

using namespace gasched;
using namespace gasched::journal_test;

namespace {

// The first column of the first row of `query` on the closed journal `path`.
int64_t sql_int(const std::string& path, const char* query) {
  sqlite_db db;
  REQUIRE_FALSE(sqlite_db::open(path, SQLITE_OPEN_READWRITE, db));
  sqlite_stmt stmt;
  REQUIRE_FALSE(stmt.prepare(db, query));
  REQUIRE(stmt.step() == SQLITE_ROW);
  return stmt.int64(0);
}

void sql(const std::string& path, const char* statements) {
  sqlite_db db;
  REQUIRE_FALSE(sqlite_db::open(path, SQLITE_OPEN_READWRITE, db));
  REQUIRE_FALSE(db.exec(statements, "test"));
}

bool has_table(const std::string& path, const std::string& name) {
  auto query = "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='" + name + "'";
  return sql_int(path, query.c_str()) == 1;
}

// A closed journal of this format whose commits each accepted few tasks
// (rows, no blocks) into format 4: the same without the tables of blocks.
#define GASCHED_TO_FORMAT_4 "DROP TABLE blocks; DROP TABLE moves;"
constexpr const char* to_format_4 = GASCHED_TO_FORMAT_4 " PRAGMA user_version=4;";

// Rewrites a closed journal of this format into format 1, as a gasched of
// that format would have left it: unfinished tasks in `tasks`, finished ones
// in `results`.
constexpr const char* to_format_1 = GASCHED_TO_FORMAT_4 R"(
CREATE TABLE results(id INTEGER PRIMARY KEY, fn INTEGER NOT NULL, args BLOB NOT NULL,
  priority INTEGER NOT NULL, node INTEGER, outcome INTEGER NOT NULL, value BLOB,
  error BLOB, error_text TEXT, finished_at INTEGER NOT NULL);
CREATE INDEX results_by_time ON results(finished_at);
INSERT INTO results SELECT id, fn, args, priority, node, outcome, value, error, error_text,
  finished_at FROM tasks WHERE state = 2;
INSERT INTO results SELECT t.id, t.fn, t.args, t.priority, e.node, e.outcome, e.value,
  e.error, e.error_text, e.finished_at FROM tasks t JOIN ends e ON e.id = t.id;
CREATE TABLE old_tasks(id INTEGER PRIMARY KEY, fn INTEGER NOT NULL, args BLOB NOT NULL,
  priority INTEGER NOT NULL, state INTEGER NOT NULL, seq INTEGER NOT NULL,
  node_failures INTEGER NOT NULL);
INSERT INTO old_tasks SELECT id, fn, args, priority, state, seq, node_failures FROM tasks
  WHERE state < 2 AND id NOT IN (SELECT id FROM ends);
DROP TABLE tasks;
DROP TABLE ends;
ALTER TABLE old_tasks RENAME TO tasks;
PRAGMA user_version=1;
)";

// The same into format 3: no lease (node, epoch) kept for a running task.
#define GASCHED_TO_FORMAT_3 \
  GASCHED_TO_FORMAT_4 "UPDATE tasks SET node = NULL WHERE state < 2; " \
                      "ALTER TABLE tasks DROP COLUMN epoch;"
constexpr const char* to_format_3 = GASCHED_TO_FORMAT_3 " PRAGMA user_version=3;";

// The same into format 2: each end written into its task's row (state 2).
constexpr const char* to_format_2 = GASCHED_TO_FORMAT_3 R"(
UPDATE tasks SET state = 2, node = e.node, outcome = e.outcome, value = e.value,
  error = e.error, error_text = e.error_text, finished_at = e.finished_at
  FROM (SELECT * FROM ends) AS e WHERE e.id = tasks.id;
DROP TABLE ends;
PRAGMA user_version=2;
)";

} // namespace

TEST_CASE("journal: a task is one row, and its end, when a later commit writes it, one row of ends",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  auto row = [&](const char* what, const char* table = "tasks") {
    auto q = std::string{"SELECT "} + what + " FROM " + table + " WHERE id=1";
    return sql_int(path, q.c_str());
  };
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("n");
    jc.enqueue(int_args(7));
    jc.commit();
  }
  CHECK(sql_int(path, "SELECT count(*) FROM tasks") == 1);
  CHECK(row("state") == 0);
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("n");
    REQUIRE(jc.dispatch().size() == 1);
    jc.commit();
    jc.journal.reset();  // closed while it runs: state 1 in the file
    CHECK(row("state") == 1);
  }
  {
    journaled_core jc{ts.sys, path};  // resumed: pending again
    jc.add_node("n");
    auto d = jc.dispatch();
    REQUIRE(d.size() == 1);
    REQUIRE(jc.core.complete(1, d[0].second, no_node, int_args(70), {}));
    jc.commit();
  }
  CHECK(sql_int(path, "SELECT count(*) FROM tasks") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM ends") == 1);
  CHECK(row("outcome", "ends") == static_cast<int64_t>(outcome_kind::succeeded));
  CHECK_FALSE(has_table(path, "results"));
  {
    auto j = open_ok(ts.sys, path);
    auto r = j->result_of(1);
    REQUIRE(r);
    CHECK((r->value.get_as<int32_t>(0) == 70 && r->args.get_as<int32_t>(0) == 7));
    CHECK(j->take_snapshot().pending.empty());  // ended: not resumed
  }
  // A task that comes and ends within one commit: one row, finished.
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("n");
    jc.enqueue(int_args(8));
    auto d = jc.dispatch();
    REQUIRE(d.size() == 1);
    REQUIRE(jc.core.complete(d[0].first, d[0].second, no_node, int_args(80), {}));
    jc.commit();
  }
  CHECK(sql_int(path, "SELECT count(*) FROM tasks WHERE id=2 AND state=2") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM ends WHERE id=2") == 0);
  auto j = open_ok(ts.sys, path);
  auto r = j->result_of(2);
  REQUIRE(r);
  CHECK((r->value.get_as<int32_t>(0) == 80 && r->args.get_as<int32_t>(0) == 8));
}

TEST_CASE("journal: a journal of format 2 is upgraded on opening, its tasks and results kept",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("a", 1);
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    jc.enqueue(int_args(3));
    jc.commit();
    REQUIRE(jc.dispatch().size() == 1);  // 1
    REQUIRE(jc.core.complete(1, 0, no_node, int_args(10), {}));
    REQUIRE(jc.dispatch().size() == 1);  // 2 runs when the scheduler stops
    jc.commit();
  }
  REQUIRE(sql_int(path, "SELECT count(*) FROM ends") == 1);
  sql(path, to_format_2);
  REQUIRE(sql_int(path, "PRAGMA user_version") == 2);
  REQUIRE_FALSE(has_table(path, "ends"));
  {
    journaled_core jc{ts.sys, path};
    CHECK(pending_ids(jc.core) == ids{2, 3});  // the running one in front
    auto r = jc.journal->result_of(1);
    REQUIRE(r);
    CHECK((r->value.get_as<int32_t>(0) == 10 && r->node == "a"));
    CHECK(is(jc.journal->result_of(2).error(), errc::unknown_task));
    jc.add_node("b", 1);
    auto d = jc.dispatch();
    REQUIRE(d.size() == 1);
    REQUIRE(jc.core.complete(2, d[0].second, no_node, int_args(20), {}));
    jc.commit();
  }
  CHECK(sql_int(path, "PRAGMA user_version") == journal_format);
  CHECK(sql_int(path, "SELECT count(*) FROM ends") == 1);  // 2's end
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{3});
  REQUIRE(jc.journal->result_of(1));
  auto r2 = jc.journal->result_of(2);
  REQUIRE(r2);
  CHECK((r2->value.get_as<int32_t>(0) == 20 && r2->args.get_as<int32_t>(0) == 2));
}

TEST_CASE("journal: a journal of format 4 is upgraded on opening, its tasks, lease and results "
          "kept",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  uint32_t epoch = 0;
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("a", 2);
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    jc.enqueue(int_args(3));
    jc.commit();
    auto d = jc.dispatch();
    REQUIRE(d.size() == 2);
    REQUIRE(jc.core.complete(1, d[0].second, no_node, int_args(10), {}));
    epoch = d[1].second;  // 2 runs when the scheduler stops
    jc.commit();
  }
  sql(path, to_format_4);
  REQUIRE_FALSE(has_table(path, "blocks"));
  {
    auto j = open_ok(ts.sys, path);
    auto s = j->take_snapshot();
    REQUIRE(s.pending.size() == 2);
    CHECK((s.pending[0].id == 2 && s.pending[0].node == "a" && s.pending[0].epoch == epoch));
    CHECK(s.pending[1].id == 3);
    auto r = j->result_of(1);
    REQUIRE(r);
    CHECK(r->value.get_as<int32_t>(0) == 10);
  }
  CHECK(sql_int(path, "PRAGMA user_version") == journal_format);
  CHECK(has_table(path, "blocks"));
  CHECK(has_table(path, "moves"));
}

TEST_CASE("journal: a journal of format 3 is upgraded on opening, and its running task, kept "
          "without node or lease, may be claimed by any node under an earlier lease",
          "[journal][adopt]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  check_upgrade_keeps_running(ts.sys, path, [&] { sql(path, to_format_3); });
  CHECK(sql_int(path, "PRAGMA user_version") == journal_format);
}

TEST_CASE("journal: a journal of format 1 is upgraded on opening, its tasks and results kept",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("a", 1);
    jc.enqueue(int_args(1));
    jc.enqueue(caf::make_message(std::string{"two"}), 0, "g");
    jc.enqueue(int_args(3));
    REQUIRE(jc.dispatch().size() == 1);  // 1
    REQUIRE(jc.core.complete(1, 0, no_node, int_args(10), {}));
    REQUIRE(jc.dispatch().size() == 1);  // 2 runs when the scheduler stops
    jc.commit();
  }
  sql(path, to_format_1);
  REQUIRE(sql_int(path, "PRAGMA user_version") == 1);
  REQUIRE(has_table(path, "results"));
  {
    journaled_core jc{ts.sys, path};
    CHECK(pending_ids(jc.core) == ids{2, 3});  // the running one in front
    auto r = jc.journal->result_of(1);
    REQUIRE(r);
    CHECK((r->value.get_as<int32_t>(0) == 10 && r->node == "a" && r->function == "f"));
    CHECK(is(jc.journal->result_of(2).error(), errc::unknown_task));
    jc.add_node("b", 1);
    auto d = jc.dispatch();
    REQUIRE(d.size() == 1);
    REQUIRE(jc.core.complete(2, d[0].second, no_node, int_args(20), {}));
    jc.commit();
  }
  CHECK(sql_int(path, "PRAGMA user_version") == journal_format);
  CHECK_FALSE(has_table(path, "results"));
  CHECK(sql_int(path, "SELECT (SELECT count(*) FROM tasks WHERE state = 2) + "
                     "(SELECT count(*) FROM ends)") == 2);
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{3});
  REQUIRE(jc.journal->result_of(1));
  auto r2 = jc.journal->result_of(2);
  REQUIRE(r2);
  CHECK((r2->value.get_as<int32_t>(0) == 20 && r2->args.get_as<std::string>(0) == "two"));
}

TEST_CASE("journal: a commit that accepts many tasks packs them into blocks, and they resume, "
          "run, end, read back and prune as rows do",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  constexpr int n = 1500;  // two blocks: 1,024 and 476
  uint32_t epoch2 = 0;
  {
    journaled_core jc{ts.sys, path};
    for (int i = 1; i <= n; ++i)
      jc.enqueue(int_args(i));
    jc.commit();
  }
  CHECK(sql_int(path, "SELECT count(*) FROM tasks") == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM blocks") == 2);
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("a", 2);
    auto d = jc.dispatch();
    REQUIRE(d.size() == 2);
    REQUIRE(jc.core.complete(1, d[0].second, no_node, int_args(10), {}));
    epoch2 = d[1].second;
    jc.commit();
    jc.journal.reset();  // closed while 2 runs
  }
  CHECK(sql_int(path, "SELECT count(*) FROM ends") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM moves WHERE id=2 AND state=1") == 1);
  for (int round = 0; round < 2; ++round) {
    // Resumed twice: 2 waits for node a's claim in front, under its lease.
    auto j = open_ok(ts.sys, path);
    auto s = j->take_snapshot();
    REQUIRE(s.pending.size() == n - 1);
    CHECK(s.pending.front().id == 2);
    CHECK(s.pending.front().node == "a");
    CHECK(s.pending.front().epoch == epoch2);
    CHECK(s.pending.back().id == n);
    CHECK(s.pending.back().args.get_as<int32_t>(0) == n);
    auto r = j->result_of(1);
    REQUIRE(r);
    CHECK((r->value.get_as<int32_t>(0) == 10 && r->args.get_as<int32_t>(0) == 1));
    CHECK(is(j->result_of(3).error(), errc::unknown_task));  // unfinished
    CHECK(is(j->result_of(n + 1).error(), errc::unknown_task));  // never accepted
  }
  {
    // Every task but the first block's last ends.
    journaled_core jc{ts.sys, path};
    jc.add_node("b", 2);
    for (auto d = jc.dispatch(); !d.empty(); d = jc.dispatch())
      for (auto& [id, epoch] : d)
        if (id != 1024)
          REQUIRE(jc.core.complete(id, epoch, no_node, int_args(static_cast<int32_t>(id) * 10),
                                   {}));
    jc.commit();
    auto r = jc.journal->result_of(n);
    REQUIRE(r);
    CHECK(r->value.get_as<int32_t>(0) == n * 10);
  }
  auto opts = fast();
  opts.keep_results = std::chrono::seconds(0);
  {
    auto j = open_ok(ts.sys, path, opts);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE_FALSE(j->commit());
    CHECK(is(j->result_of(1).error(), errc::unknown_task));
    CHECK(is(j->result_of(n).error(), errc::unknown_task));
  }
  // The second block went with its last result; the first keeps 1024 alone.
  CHECK(sql_int(path, "SELECT count(*) FROM blocks") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM ends") == 0);
  CHECK(sql_int(path, "SELECT count(*) FROM moves WHERE id <> 1024") == 0);
  auto s = open_ok(ts.sys, path)->take_snapshot();
  REQUIRE(s.pending.size() == 1);
  CHECK(s.pending.front().id == 1024);
  CHECK(s.pending.front().args.get_as<int32_t>(0) == 1024);
}
