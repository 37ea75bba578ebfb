#include "journal/journal_upgrade.hpp"

#include <string>

#include "journal/journal_file.hpp"

namespace gasched::detail {

namespace {

// Format 1 kept a task in `tasks` while unfinished and moved it into
// `results` when it ended; format 2 keeps one row per task and updates it in
// place. Results become finished rows (state 2); their seq and node_failures
// no longer count for anything.
constexpr const char* format_1_to_2 = R"(
ALTER TABLE tasks ADD COLUMN node INTEGER;
ALTER TABLE tasks ADD COLUMN outcome INTEGER;
ALTER TABLE tasks ADD COLUMN value BLOB;
ALTER TABLE tasks ADD COLUMN error BLOB;
ALTER TABLE tasks ADD COLUMN error_text TEXT;
ALTER TABLE tasks ADD COLUMN finished_at INTEGER;
INSERT OR REPLACE INTO tasks(id, fn, args, priority, state, seq, node_failures, node,
  outcome, value, error, error_text, finished_at)
  SELECT id, fn, args, priority, 2, id, 0, node, outcome, value, error, error_text,
  finished_at FROM results;
DROP TABLE results;
PRAGMA user_version=2;
)";

// Format 3 writes the end of a task accepted by an earlier commit into
// `ends` rather than into its row; the finished rows of format 2 stay as
// they are (state 2), as format 3 also writes a task that ends within the
// commit that accepted it.
constexpr const char* format_2_to_3 = R"(
CREATE TABLE ends(id INTEGER PRIMARY KEY, node INTEGER, outcome INTEGER NOT NULL,
  value BLOB, error BLOB, error_text TEXT, finished_at INTEGER NOT NULL);
PRAGMA user_version=3;
)";

// Format 4 keeps a running task's node (in `node`, which held only where a
// task ended) and its lease's epoch, for adoption; a running task of an
// older file has neither, and any node may claim it under an earlier lease.
constexpr const char* format_3_to_4 = R"(
ALTER TABLE tasks ADD COLUMN epoch INTEGER;
PRAGMA user_version=4;
)";

// Format 5 packs the tasks of a commit that accepted many into blocks
// (task_block.hpp); the rows of format 4 stay as they are.
constexpr const char* format_4_to_5 = R"(
CREATE TABLE blocks(first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, tasks BLOB NOT NULL);
CREATE TABLE moves(id INTEGER PRIMARY KEY, state INTEGER NOT NULL, seq INTEGER,
  node_failures INTEGER, node INTEGER, epoch INTEGER);
PRAGMA user_version=5;
)";

// Format 6 packs the ends and the moves that one commit writes (change_pack.hpp);
// the rows of `ends` and `moves` of format 5 stay as they are, and are read
// before any pack.
constexpr const char* format_5_to_6 = R"(
CREATE TABLE end_packs(first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL,
  finished_at INTEGER NOT NULL, ends BLOB NOT NULL);
CREATE TABLE move_packs(seq INTEGER PRIMARY KEY, moves BLOB NOT NULL);
PRAGMA user_version=6;
)";

} // namespace

caf::error upgrade_journal(sqlite_db& db, int64_t from) {
  static_assert(journal_format == 6, "add the upgrade to the new format here");
  if (from == 1)
    if (auto err = db.exec(format_1_to_2, "cannot upgrade it from journal format 1 to 2"))
      return err;
  if (from <= 2)
    if (auto err = db.exec(format_2_to_3, "cannot upgrade it from journal format 2 to 3"))
      return err;
  if (from <= 3)
    if (auto err = db.exec(format_3_to_4, "cannot upgrade it from journal format 3 to 4"))
      return err;
  if (from <= 4)
    if (auto err = db.exec(format_4_to_5, "cannot upgrade it from journal format 4 to 5"))
      return err;
  if (from <= 5)
    return db.exec(format_5_to_6, "cannot upgrade it from journal format 5 to 6");
  return caf::none;
}

} // namespace gasched::detail
