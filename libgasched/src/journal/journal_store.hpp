// What a durable_journal needs of the place it keeps its tasks: resume from
// it, write one commit atomically, read a kept task back. Two stores: an
// SQLite file (sqlite_store.hpp, one machine) and a PostgreSQL database
// (pg_store.hpp, shared by standby schedulers). Everything above the store
// (buffering, group commit on the writer's thread, refusals, results of
// tasks not yet written) is the same for both: durable_journal.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include "core/journal.hpp"
#include "journal/change_buffer.hpp"

namespace gasched::detail {

struct journal_options {
  /// How long a finished task's result stays awaitable (at least; pruning
  /// runs every prune_interval). Default 24 h.
  std::chrono::seconds keep_results = std::chrono::hours(24);
  /// How often commit() deletes results older than keep_results.
  std::chrono::seconds prune_interval = std::chrono::minutes(1);
  /// true (default): every commit reaches the disk (fsync) before it
  /// returns, so an accepted task survives a power loss or an OS crash.
  /// false: commits survive the scheduler's own crash, not the machine's.
  bool sync_every_commit = true;
  /// Largest size of the file in bytes; 0: no limit. A commit beyond it
  /// fails as on a full disk. (SQLite only.)
  uint64_t max_bytes = 0;
  /// Check the file's structure when opening it (PRAGMA quick_check): a
  /// damaged journal is refused at once rather than failing later. (SQLite only.)
  bool check_on_open = true;
  /// The cluster a PostgreSQL journal belongs to: a database created for
  /// another is refused. (PostgreSQL only.)
  std::string cluster = "gasched";
  /// The application_name of its session (pg_leader::session_name: what a
  /// standby ends when this scheduler hangs). (PostgreSQL only.)
  std::string session = "gasched";
};

/// The meta row: the scheduler's state besides its tasks.
struct journal_meta {
  uint32_t generation = 0;
  task_id next_id = 1;
  int64_t front_seq = -1;  ///< seq of the next task requeued to the front
  core_counters count;
};

/// What the store keeps in memory besides the changes of the next commit.
struct journal_names {
  std::vector<std::string> functions;  ///< by fn
  std::vector<std::string> nodes;      ///< by node
};

/// Clients' notes (note_atom), by key.
using journal_notes = std::map<std::string, std::string>;

/// What one commit writes: its own copy of everything, for the writer's
/// thread reads it while the scheduler goes on.
struct commit_batch {
  change_buffer changes;
  std::vector<std::string> functions;  ///< names new since the last commit,
  size_t first_function = 0;           ///< numbered from here
  std::vector<std::string> nodes;
  size_t first_node = 0;
  std::vector<std::pair<std::string, std::string>> notes;  ///< key, value
  journal_meta meta;
  int64_t prune_before = 0;  ///< delete results that finished before (ms); 0: none
  task_id durable_id = 0;    ///< every task up to it is accepted once this is written
  /// When its tasks finished, as kept for pruning (unix time in ms): the
  /// time the commit started, not before any of their ends. One clock
  /// reading per commit, not per task (a reading costs half a microsecond
  /// on some virtual machines).
  int64_t finished_at = 0;

  void clear() {
    changes.clear();
    functions.clear();
    nodes.clear();
    notes.clear();
  }
};

/// A task as a store keeps it, read back for await(task_id).
struct kept_task {
  uint32_t fn = 0;
  int32_t priority = 0;
  std::vector<char> args;
  // -- set when finished --
  int64_t node = -1;  ///< the store's node number; -1: none
  outcome_kind how = outcome_kind::succeeded;
  std::vector<char> value, error;
  int64_t finished_at = 0;
};

class journal_store {
public:
  /// Most results one commit deletes: pruning never stalls a commit long.
  static constexpr int64_t prune_limit = 10000;

  virtual ~journal_store();

  /// Where the journal is, for messages: a path, or a URL without its password.
  virtual const std::string& where() const = 0;

  /// Reads the journal back, once, when its scheduler starts, in one
  /// transaction: the tasks that were running go back to the front of
  /// pending (in id order, as after a node's death), and a journal that was
  /// used before starts a new generation, made durable before this returns
  /// so that no lease of an earlier run is issued again. On error nothing
  /// was changed.
  virtual caf::error resume(caf::actor_system& sys, journal_meta& meta,
                            journal_names& names, journal_notes& notes,
                            journal_snapshot& snapshot) = 0;

  /// Writes `batch` atomically, on the writer's thread; `pruned` counts the
  /// results deleted. On error nothing of it was written.
  virtual caf::error write(const commit_batch& batch, size_t& pruned) = 0;

  /// Task `id` as kept (only when it finished if `finished_only`). Error
  /// errc::unknown_task: not kept; errc::journal_error: cannot be read.
  virtual caf::error read(task_id id, bool finished_only, kept_task& out) = 0;

  /// From any thread: makes a write or read waiting for a store that cannot
  /// be reached fail now (a scheduler that stepped down must not wait for
  /// ever on its way out). Nothing by default.
  virtual void cut() noexcept {
  }
};

} // namespace gasched::detail
