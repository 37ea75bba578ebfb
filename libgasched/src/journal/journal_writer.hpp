// Writes what changed since the last commit into the journal file, in one
// transaction, with statements prepared once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "journal/change_buffer.hpp"
#include "journal/journal_file.hpp"
#include "journal/journal_store.hpp"
#include "journal/resume.hpp"
#include "journal/sqlite_db.hpp"
#include "journal/task_block.hpp"

namespace gasched::detail {

/// Rows of one kind, inserted `rows_per_step` to a statement step: measured,
/// a step of 32 rows costs the writer about a quarter less per row than a
/// step per row. What is left at the end goes one row a step.
class batched_insert {
public:
  static constexpr int rows_per_step = 32;

  /// `head`: "INSERT ... INTO t(columns)", of `cols` columns; `tail` after
  /// the values (an upsert's ON CONFLICT clause).
  caf::error prepare(sqlite_db& db, const char* head, int cols, const char* tail = "");

  /// Forgets rows held from a write that failed.
  void clear() noexcept {
    n_ = 0;
  }

  /// Holds `c`; writes the rows held once they are rows_per_step.
  /// `bind(stmt, b, c)` binds c's row from parameter b + 1 on.
  template <class Bind>
  caf::error add(const sqlite_db& db, const task_change& c, Bind&& bind) {
    held_[n_++] = &c;
    if (n_ < rows_per_step)
      return caf::none;
    for (int r = 0; r < n_; ++r)
      bind(many_, r * cols_, *held_[r]);
    n_ = 0;
    return many_.run(db, "cannot write it");
  }

  /// Writes the rows still held, one a step.
  template <class Bind>
  caf::error flush(const sqlite_db& db, Bind&& bind) {
    auto n = std::exchange(n_, 0);
    for (int r = 0; r < n; ++r) {
      bind(one_, 0, *held_[r]);
      if (auto err = one_.run(db, "cannot write it"))
        return err;
    }
    return caf::none;
  }

private:
  int cols_ = 0;
  int n_ = 0;
  const task_change* held_[rows_per_step] = {};
  sqlite_stmt one_, many_;
};

class journal_writer {
public:
  /// Fewest tasks a commit accepts, unfinished, that it packs into blocks
  /// (task_block.hpp); fewer are rows of `tasks`, which await reads and
  /// prunes one by one.
  static constexpr size_t block_min_tasks = 64;

  caf::error prepare(sqlite_db& db);

  /// Writes `batch` atomically; `pruned` counts the results deleted. On
  /// error nothing is written and the file is as after the last commit.
  caf::error write(const commit_batch& batch, size_t& pruned);

private:
  caf::error write_all(const commit_batch& batch, size_t& pruned);
  caf::error update_task(const task_change& c);
  caf::error add_to_block(const change_buffer& buf, const task_change& c);
  caf::error write_block();
  bool in_block(task_id id) const;
  caf::error prune_ends(int64_t before, size_t& pruned);
  caf::error prune_blocks(std::vector<int64_t>& ids);

  sqlite_db* db_ = nullptr;
  batched_insert insert_tasks_, insert_ends_, insert_results_, insert_moves_;
  sqlite_stmt update_task_;
  sqlite_stmt insert_function_, insert_node_, write_note_, write_meta_, prune_;
  sqlite_stmt select_old_ends_, delete_task_, delete_end_, delete_move_;
  sqlite_stmt insert_block_, select_block_, update_block_, delete_block_;
  std::vector<int64_t> old_ids_;  // prune_ends's, kept for its capacity
  block_writer block_;
  // (first_id, last_id) of every block written, in order: a change of a
  // task in one goes to `moves`. (A block pruned away keeps its range: none
  // of its tasks changes again.)
  std::vector<std::pair<int64_t, int64_t>> blocks_;
};

} // namespace gasched::detail
