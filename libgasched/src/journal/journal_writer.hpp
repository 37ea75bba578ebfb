// Writes what changed since the last commit into the journal file, in one
// transaction, with statements prepared once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "journal/change_buffer.hpp"
#include "journal/change_pack.hpp"
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
  caf::error write_end_packs(const change_buffer& buf, int64_t finished_at);
  caf::error write_move_pack();
  caf::error drop_dead_move_packs();
  void settle();
  caf::error read_move_packs();
  caf::error prune_ends(int64_t before, size_t& pruned);
  caf::error prune_end_packs(int64_t before, size_t& pruned, std::vector<int64_t>& in_blocks);
  caf::error prune_task(int64_t id, std::vector<int64_t>& in_blocks);
  caf::error prune_blocks(std::vector<int64_t>& ids);

  sqlite_db* db_ = nullptr;
  batched_insert insert_tasks_, insert_results_;
  sqlite_stmt update_task_;
  sqlite_stmt insert_function_, insert_node_, write_note_, write_meta_, prune_;
  sqlite_stmt select_old_ends_, delete_task_, delete_end_, delete_move_;
  sqlite_stmt insert_block_, select_block_, update_block_, delete_block_;
  sqlite_stmt insert_end_pack_, select_old_end_packs_, delete_end_pack_;
  sqlite_stmt insert_move_pack_, delete_move_pack_;
  std::vector<int64_t> old_ids_;  // prune_ends's, kept for its capacity
  block_writer block_;
  // (first_id, last_id) of every block written, in order: a change of a
  // task in one goes to a move pack. (A block pruned away keeps its range:
  // none of its tasks changes again.)
  std::vector<std::pair<int64_t, int64_t>> blocks_;
  // The commit's ends of tasks accepted earlier, and its moves of block
  // tasks, in ascending ids.
  std::vector<const task_change*> ends_, moves_;
  end_pack_writer end_pack_;
  move_pack_writer move_pack_;
  // A move pack is deleted with the last of its moves that still counts:
  // every task in it moved again or ended. Each move is whole (what a
  // requeue set is written again with each later move), so that the last
  // one alone counts. Which pack holds each block task's last move, that
  // move, and how many such moves each pack holds; all change only once a
  // commit is written (settle), for a failed one is written again.
  struct last_move {
    int64_t pack = 0;
    packed_move move;
  };
  std::unordered_map<int64_t, last_move> last_moves_;  // by task id
  std::unordered_map<int64_t, uint32_t> live_;         // pack seq -> moves that count
  std::vector<packed_move> written_;                   // this commit's moves
  std::vector<int64_t> leaving_;  // the packs this commit's tasks leave, one per task
  std::vector<int64_t> dead_packs_;  // found dead on opening: deleted by the next commit
  int64_t next_pack_ = 1;         // the seq of this commit's move pack
  bool legacy_moves_ = false;     // rows of `moves` (format 5) are left to prune
};

} // namespace gasched::detail
