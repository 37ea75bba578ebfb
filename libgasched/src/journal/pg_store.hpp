// The journal in a PostgreSQL database, shared by schedulers of which one is
// active at a time (pg_leader.hpp). The tables, beside whatever else the
// database holds (layout 4; gasched_meta names the layout and the cluster):
//
//   gasched_meta(one = 1, layout, cluster, version,  the scheduler's state,
//     generation, next_id, front_seq, counters)     as journal_file.hpp's meta
//   gasched_fence(one = 1, generation)               the generation that may commit
//   gasched_lease, gasched_standbys                  who is active (pg_leader.hpp)
//   gasched_functions, gasched_nodes, gasched_notes, as in the SQLite file
//   gasched_news(first_id, last_id, n, open, ...)    the tasks one commit accepted,
//                                                    one row (pg_blocks.hpp)
//   gasched_done(news, n, finished_at, ids, ends)    the ends one commit wrote of
//                                                    one block's tasks, one row
//   gasched_states(id, state, seq, node, epoch ...)  a task's state once it is not
//                                                    pending as accepted
//   gasched_tasks, gasched_ends                      the rows of layout 3 and
//                                                    before, read as they were
//
// A commit writes a few rows, not a row per task: a database spends several
// microseconds on each row and index entry, and it shares the scheduler's
// machine.
//
// Fencing: every commit locks the fence row FOR KEY SHARE in its own
// transaction and fails unless it holds this scheduler's generation; a
// takeover locks it FOR UPDATE (waiting for a commit in flight) and raises
// the generation, so once it is done no commit of an older generation can
// ever succeed. A commit is one query: the fence check, binary COPYs of the
// rows, the rest and COMMIT in one message.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "journal/journal_store.hpp"
#include "journal/pg_db.hpp"

namespace gasched::detail {

/// The tables' layout this version writes (4: tasks and ends in blocks; 3:
/// a running task's node and epoch), and the oldest it upgrades when it
/// opens the journal (older ones are refused, naming them).
constexpr int pg_layout = 4;
constexpr int pg_oldest_layout = 2;

/// This build's version, as leases and meta record it.
const char* gasched_version();

/// The journal `db` holds, if any, is of a layout this version reads (up
/// to pg_layout, from pg_oldest_layout: `layout` gets which) and of
/// `cluster`. Error journal_error naming what it is instead (the database
/// untouched).
caf::error pg_check_journal(pg_db& db, const std::string& cluster, int64_t* layout = nullptr);

class pg_store final : public journal_store {
public:
  /// How long each query of opening and resuming may wait for an answer.
  /// Generous: a slice of a resume is 50,000 tasks.
  static constexpr std::chrono::milliseconds resume_bound{10000};

  /// Connects to `url` and checks (or, in an empty database, creates) the
  /// tables. Error journal_error naming the URL without its password:
  /// unreachable, refused, a journal of another cluster than `cluster`, or
  /// of another layout.
  static caf::expected<std::unique_ptr<pg_store>>
  open(const std::string& url, const std::string& cluster, const journal_options& opts);

  /// The generation this store's commits carry (a lease's, pg_leader). 0,
  /// the default: resume() raises the fence itself, so a scheduler alone on
  /// the database fences whoever wrote before.
  void set_generation(uint32_t generation) noexcept {
    generation_ = generation;
  }

  uint32_t generation() const noexcept {
    return generation_;
  }

  const std::string& where() const override {
    return db_.where();
  }
  caf::error resume(caf::actor_system& sys, journal_meta& meta, journal_names& names,
                    journal_notes& notes, journal_snapshot& snapshot) override;
  /// Error errc::standby when the fence holds a newer generation: this
  /// scheduler lost its lease and must never commit again.
  caf::error write(const commit_batch& batch, size_t& pruned) override;
  caf::error read(task_id id, bool finished_only, kept_task& out) override;
  void cut() noexcept override {
    db_.cut();
  }

private:
  pg_store() = default;
  caf::error check_schema(const std::string& cluster);
  caf::error resume_in_transaction(caf::actor_system& sys, journal_meta& meta,
                                   journal_names& names, journal_notes& notes,
                                   journal_snapshot& snapshot);
  caf::error write_in_transaction(const commit_batch& batch, size_t& pruned);
  caf::error resume_blocks(caf::actor_system& sys, const journal_names& names,
                           std::vector<restored_task>& tasks, std::vector<int64_t>& seqs);
  // The rows of a binary COPY in progress: the changes `select` picks, as
  // `write` makes them (`fields` each), sent in parts.
  template <class Select, class Row>
  caf::error copy_each(const change_buffer& buf, int16_t fields, Select select, Row write);
  caf::error fenced_or(caf::error err);
  // The first id of the open block that holds `id`; 0: none (a task of
  // layout 3, a row of gasched_tasks).
  task_id block_of(task_id id) const;
  caf::error read_block_task(task_id id, kept_task& out, task_id& block);

  // A block with tasks that have not ended: its last id, how many are open.
  struct open_block {
    task_id last = 0;
    int64_t open = 0;
  };

  pg_db db_;
  std::map<task_id, open_block> open_;  // by first id; the writer's thread's
  uint32_t generation_ = 0;
  bool sync_ = true;
};

} // namespace gasched::detail
