// The journal's file: its options, its format, and opening it safely.
//
// Schema (format 4; SQLite's application_id marks the file as gasched's and
// user_version holds the format):
//
//   meta(one = 1, generation, next_id, front_seq, ticks, succeeded, failed,
//        cancelled, requeued, quarantined)         one row: the scheduler
//   functions(fn PRIMARY KEY, name UNIQUE)          interned function names
//   nodes(node PRIMARY KEY, name UNIQUE)            interned node names
//   tasks(id PRIMARY KEY, fn, args BLOB, priority,  one row per task, from its
//         state, seq, node_failures,                acceptance to its pruning:
//         node, outcome, value BLOB, error BLOB,    state 0 pending, 1 running,
//         error_text, finished_at, epoch)           2 finished within the commit
//                                                   that accepted it (outcome to
//                                                   finished_at are set); while
//                                                   running, node and epoch: its
//                                                   lease, for adoption
//   ends(id PRIMARY KEY, node, outcome, value BLOB, the end of a task accepted
//        error BLOB, error_text, finished_at)       by an earlier commit
//   notes(key PRIMARY KEY, value BLOB NOT NULL)     clients' notes (note_atom)
//   blocks(first_id PRIMARY KEY, last_id,           the tasks a commit accepted,
//          tasks BLOB)                              when it accepted many
//                                                   (block_min_tasks), unfinished
//                                                   when written: up to 1,024 a
//                                                   row (task_block.hpp)
//   moves(id PRIMARY KEY, state, seq,               a block's task dispatched or
//         node_failures, node, epoch)               requeued by a later commit
//                                                   (seq, node_failures: NULL
//                                                   when unchanged)
//
// A task is finished when its row has state 2 or it has a row in `ends`.
// A commit that accepts many tasks (a batch) packs those not finished
// within it into blocks: one row per 1,024 tasks rather than one each, the
// largest share of the writer's time for a batch (measured); their later
// changes go to `moves` and their ends to `ends`, as a row's do.
// A task that comes and ends within one commit is one insert; one that ends
// in a later commit is an insert when accepted and an append to `ends`
// (ids end nearly in order) when it ends: measured, an append costs about
// half of the update in place of format 2, which grew each row and split
// its page. No index on finished_at: keeping one up to date cost a third of
// the writer's time (measured); pruning, once a minute, scans the rows in
// id order instead, where the oldest results are. Older formats are
// upgraded on opening (journal_upgrade.hpp).
//
// A pending task's place within its priority is `seq`: its id when it came
// in, or a number counting down from -1 (meta.front_seq) when it went back
// to the front, as pending_queue orders them. Blobs are CAF's binary format.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/error.hpp>

#include "core/journal.hpp"
#include "journal/journal_store.hpp"
#include "journal/sqlite_db.hpp"

namespace gasched::detail {

constexpr int32_t journal_application_id = 0x47534a4e;  // "GSJN"
constexpr int32_t journal_format = 5;

/// Reads the meta row (within a transaction).
caf::error read_meta(sqlite_db& db, journal_meta& meta);

/// The statement that writes the meta row, and its parameters.
constexpr const char* write_meta_sql =
  "UPDATE meta SET generation=?1, next_id=?2, front_seq=?3, ticks=?4, succeeded=?5, "
  "failed=?6, cancelled=?7, requeued=?8, quarantined=?9 WHERE one=1";
void bind_meta(sqlite_stmt& stmt, const journal_meta& meta);

/// Opens or creates the journal at `path` and locks it for this connection
/// (no other process or connection can open it while `db` is open). Checks
/// that an existing file is a gasched journal of a format this version
/// reads, and upgrades an older format in place (journal_upgrade.hpp);
/// creates the schema in a new (absent or empty) file. Never alters a file
/// it refuses. `fresh`: the journal is new.
caf::error open_journal_file(const std::string& path, const journal_options& opts,
                             sqlite_db& db, bool& fresh);

} // namespace gasched::detail
