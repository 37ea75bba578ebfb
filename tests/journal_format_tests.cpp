// The journal's file layout: one row per task, a block for many, and the
// ends and moves of a commit packed; journals of the earlier formats (a table
// of tasks and a table of results; ends updated in place; rows of ends and
// moves) upgraded on opening.
#include <map>

#include <sqlite3.h>

#include "journal/change_pack.hpp"
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

// The moves that count in a closed journal: its packs folded in order.
std::map<int64_t, packed_move> moves_in(const std::string& path) {
  sqlite_db db;
  REQUIRE_FALSE(sqlite_db::open(path, SQLITE_OPEN_READWRITE, db));
  sqlite_stmt packs;
  REQUIRE_FALSE(packs.prepare(db, "SELECT moves FROM move_packs ORDER BY seq"));
  std::map<int64_t, packed_move> out;
  while (packs.step() == SQLITE_ROW) {
    auto [data, size] = packs.blob(0);
    move_pack_reader in{data, size};
    packed_move m;
    while (in.next(m))
      out[m.id] = m;
    REQUIRE_FALSE(in.damaged());
  }
  return out;
}

// Rewrites a closed journal of this format into format 5, as a gasched of
// that format would have left it: each end a row of `ends`, each move a row
// of `moves`.
void to_format_5(const std::string& path) {
  sqlite_db db;
  REQUIRE_FALSE(sqlite_db::open(path, SQLITE_OPEN_READWRITE, db));
  sqlite_stmt packs, row;
  REQUIRE_FALSE(packs.prepare(db, "SELECT finished_at, ends FROM end_packs"));
  REQUIRE_FALSE(row.prepare(db, "INSERT INTO ends(id, node, outcome, value, error, "
                                "finished_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  while (packs.step() == SQLITE_ROW) {
    auto [data, size] = packs.blob(1);
    end_pack_reader in{data, size};
    packed_end e;
    while (in.next(e)) {
      row.bind(1, e.id).bind(3, int64_t{e.how}).bind(6, packs.int64(0));
      if (e.node >= 0)
        row.bind(2, e.node);
      else
        row.bind_null(2);
      if (e.value_size > 0)
        row.bind_blob(4, e.value, e.value_size);
      else
        row.bind_null(4);
      if (e.error_size > 0)
        row.bind_blob(5, e.error, e.error_size);
      else
        row.bind_null(5);
      REQUIRE_FALSE(row.run(db, "test"));
    }
    REQUIRE_FALSE(in.damaged());
  }
  packs.reset();
  sqlite_stmt move;
  REQUIRE_FALSE(move.prepare(db, "INSERT OR REPLACE INTO moves(id, state, seq, node_failures, "
                                 "node, epoch) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  for (auto& [id, m] : moves_in(path)) {
    move.bind(1, id).bind(2, m.state);
    auto maybe = [&](int i, bool has, int64_t x) {
      if (has)
        move.bind(i, x);
      else
        move.bind_null(i);
    };
    maybe(3, m.has_seq, m.seq);
    maybe(4, m.has_node_failures, m.node_failures);
    maybe(5, m.node >= 0, m.node);
    maybe(6, m.epoch >= 0, m.epoch);
    REQUIRE_FALSE(move.run(db, "test"));
  }
  REQUIRE_FALSE(db.exec("DROP TABLE end_packs; DROP TABLE move_packs; PRAGMA user_version=5;",
                        "test"));
}

// A closed journal of this format rewritten by `statements` after
// to_format_5.
void sql_from_5(const std::string& path, const char* statements) {
  to_format_5(path);
  sql(path, statements);
}

// A closed journal of format 5 whose commits each accepted few tasks (rows,
// no blocks) into format 4: the same without the tables of blocks.
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

TEST_CASE("journal: a task is one row, and its end, when a later commit writes it, a pack of ends",
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
  CHECK(sql_int(path, "SELECT count(*) FROM end_packs WHERE first_id=1 AND last_id=1") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM ends") == 0);
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
  CHECK(sql_int(path, "SELECT count(*) FROM end_packs") == 1);  // 1's alone
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
  REQUIRE(sql_int(path, "SELECT count(*) FROM end_packs") == 1);
  sql_from_5(path, to_format_2);
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
  CHECK(sql_int(path, "SELECT count(*) FROM end_packs") == 1);  // 2's end
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
  sql_from_5(path, to_format_4);
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
  check_upgrade_keeps_running(ts.sys, path, [&] { sql_from_5(path, to_format_3); });
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
  sql_from_5(path, to_format_1);
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
                     "(SELECT count(*) FROM end_packs)") == 2);
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
  CHECK(sql_int(path, "SELECT count(*) FROM end_packs") == 1);
  auto moved = moves_in(path);
  REQUIRE(moved.size() == 1);
  CHECK((moved.count(2) == 1 && moved[2].state == 1 && moved[2].epoch == epoch2));
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
  CHECK(sql_int(path, "SELECT count(*) FROM end_packs") == 0);
  // Only 1024's move still counts; every other pack went with its last move.
  CHECK(sql_int(path, "SELECT count(*) FROM move_packs") == 1);
  auto left = moves_in(path);
  REQUIRE(left.size() == 1);
  CHECK(left.begin()->first == 1024);
  auto s = open_ok(ts.sys, path)->take_snapshot();
  REQUIRE(s.pending.size() == 1);
  CHECK(s.pending.front().id == 1024);
  CHECK(s.pending.front().args.get_as<int32_t>(0) == 1024);
}

TEST_CASE("journal: a commit packs the ends and moves it writes, a task's end is read back by "
          "id, and a move pack goes once each of its tasks moved again or ended",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  constexpr int n = 6000;
  auto count = [&](const std::string& query) {
    return sql_int(path, ("SELECT count(*) FROM " + query).c_str());
  };
  auto value = [](task_id id) { return int_args(static_cast<int32_t>(id) * 10); };
  {
    journaled_core jc{ts.sys, path, core_limits{n, 0, 3}};
    for (int i = 1; i <= n; ++i)
      jc.enqueue(int_args(i));
    jc.commit();
    auto a = jc.add_node("a", 1000);
    auto d = jc.dispatch();
    REQUIRE(d.size() == 1000);
    jc.commit();  // 1,000 moves in one pack
    for (auto& [id, epoch] : d)
      if (id != 500)
        REQUIRE(jc.core.complete(id, epoch, no_node, value(id), {}));
    jc.commit();  // 999 ends in one pack; 500's move still counts
    jc.core.remove_node(a);  // 500 back to the front, one node failure
    jc.commit();
    jc.add_node("b", 1);
    d = jc.dispatch();
    REQUIRE((d.size() == 1 && d[0].first == 500));
    jc.commit();
  }
  CHECK(count("end_packs") == 1);
  // Each pack went with its last move that counted; the dispatch's move is
  // whole: it keeps what the requeue set.
  CHECK(count("move_packs") == 1);
  auto moved = moves_in(path);
  REQUIRE(moved.size() == 1);
  CHECK((moved[500].state == 1 && moved[500].has_seq && moved[500].seq < 0
         && moved[500].node_failures == 1));
  {
    auto j = open_ok(ts.sys, path);  // 500 ran on b: back in front, its failure kept
    auto s = j->take_snapshot();
    REQUIRE(s.pending.size() == n - 999);
    CHECK((s.pending.front().id == 500 && s.pending.front().node_failures == 1
           && s.pending.front().node == "b"));
    for (task_id id : {1, 499, 501, 1000}) {
      auto r = j->result_of(id);
      REQUIRE(r);
      CHECK(r->value.get_as<int32_t>(0) == static_cast<int32_t>(id) * 10);
    }
    CHECK(is(j->result_of(500).error(), errc::unknown_task));
    CHECK(is(j->result_of(1001).error(), errc::unknown_task));
  }
  {
    journaled_core jc{ts.sys, path, core_limits{n, 0, 3}};
    jc.add_node("c", n);
    auto d = jc.dispatch();
    REQUIRE(d.size() == n - 999);
    std::vector<task_id> first = {500, 1001, n};
    for (auto& [id, epoch] : d)
      if (std::count(first.begin(), first.end(), id) > 0)
        REQUIRE(jc.core.complete(id, epoch, no_node, value(id), {}));
    jc.commit();
    for (auto id : first) {
      auto r = jc.journal->result_of(id);
      REQUIRE(r);
      CHECK(r->value.get_as<int32_t>(0) == static_cast<int32_t>(id) * 10);
    }
    for (auto& [id, epoch] : d)
      if (std::count(first.begin(), first.end(), id) == 0)
        REQUIRE(jc.core.complete(id, epoch, no_node, value(id), {}));
    jc.commit();
  }
  // Ends more than max_span ids apart went into packs of their own.
  CHECK(count("end_packs WHERE first_id = 500 AND last_id = 1001") == 1);
  CHECK(count("end_packs WHERE first_id = 6000 AND last_id = 6000") == 1);
  // No move counts any more, and no move pack is left.
  CHECK(count("move_packs") == 0);
  CHECK(moves_in(path).empty());
  auto j = open_ok(ts.sys, path);
  CHECK(j->take_snapshot().pending.empty());
  for (task_id id : {1, 500, 1001, 3000, 5999, n}) {
    auto r = j->result_of(id);
    REQUIRE(r);
    CHECK(r->value.get_as<int32_t>(0) == static_cast<int32_t>(id) * 10);
  }
}
