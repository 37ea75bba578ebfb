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

namespace gasched::detail {

class journal_writer {
public:
  caf::error prepare(sqlite_db& db);

  /// Writes `batch` atomically; `pruned` counts the results deleted. On
  /// error nothing is written and the file is as after the last commit.
  caf::error write(const commit_batch& batch, size_t& pruned);

private:
  caf::error write_all(const commit_batch& batch, size_t& pruned);
  caf::error write_task(const change_buffer& buf, const task_change& c);
  caf::error write_result(const change_buffer& buf, const task_change& c, int64_t finished_at);
  void bind_outcome(const change_buffer& buf, const task_change& c, int64_t finished_at);
  caf::error prune_ends(int64_t before, size_t& pruned);

  sqlite_db* db_ = nullptr;
  sqlite_stmt insert_task_, update_task_, insert_result_, finish_task_;
  sqlite_stmt insert_function_, insert_node_, write_note_, write_meta_, prune_;
  sqlite_stmt select_old_ends_, delete_task_, delete_end_;
  std::vector<int64_t> old_ids_;  // prune_ends's, kept for its capacity
};

} // namespace gasched::detail
