// The journal's file: its options, its format, and opening it safely.
//
// Schema (format 6; SQLite's application_id marks the file as gasched's and
// user_version holds the format):
//
//   meta(one = 1, generation, next_id, front_seq, ticks, succeeded, failed,
//        cancelled, requeued, quarantined)         one row: the scheduler
//   functions(fn PRIMARY KEY, name UNIQUE)          interned function names
//   nodes(node PRIMARY KEY, name UNIQUE)            interned node names
//   tasks(id PRIMARY KEY, fn, args BLOB, priority,  one row per task accepted
//         state, seq, node_failures,                by a commit that accepted
//         node, outcome, value BLOB, error BLOB,    few: state 0 pending, 1
//         error_text, finished_at, epoch)           running, 2 finished within
//                                                   the commit that accepted it
//                                                   (outcome to finished_at are
//                                                   set); while running, node
//                                                   and epoch: its lease, for
//                                                   adoption
//   blocks(first_id PRIMARY KEY, last_id,           the tasks a commit accepted,
//          tasks BLOB)                              when it accepted many
//                                                   (block_min_tasks), unfinished
//                                                   when written: up to 1,024 a
//                                                   row (task_block.hpp)
//   end_packs(first_id PRIMARY KEY, last_id,        the ends of tasks accepted by
//             finished_at, ends BLOB)               an earlier commit, up to 1,024
//                                                   a row, ids at most 4,096 apart
//                                                   (change_pack.hpp)
//   move_packs(seq PRIMARY KEY, moves BLOB)         a commit's dispatches and
//                                                   requeues of block tasks; a
//                                                   later pack's move of a task
//                                                   replaces the earlier one
//   notes(key PRIMARY KEY, value BLOB NOT NULL)     clients' notes (note_atom)
//   ends(id PRIMARY KEY, node, outcome, ...)        format 5's rows of ends and
//   moves(id PRIMARY KEY, state, seq, ...)          moves: read before any pack,
//                                                   pruned, never written again
//
// A task is finished when its row has state 2 or its end is in a pack (or a
// row of `ends`). A commit that accepts many tasks (a batch) packs those not
// finished within it into blocks, one row per 1,024 tasks rather than one
// each; a commit writes the ends and the moves it holds as packs too: a row
// per task cost SQLite a statement step and a B-tree cell each, the largest
// share of the writer's time after the blocks (measured, docs/benchmarks.md).
// A move pack is deleted once every task in it moved again or ended; each
// move is whole (it repeats what a requeue set), so that the last counts
// alone. A task that comes and ends within one commit is one insert. No
// index on finished_at: keeping one up to date cost a third of the writer's
// time (measured); pruning, once a minute, scans the rows in id order
// instead, where the oldest results are, and the packs. Older formats are
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
constexpr int32_t journal_format = 6;

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
