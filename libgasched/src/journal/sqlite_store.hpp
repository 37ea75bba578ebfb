// The journal in an SQLite file (format: journal_file.hpp), for a scheduler
// alone on its machine: locked by one scheduler at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "journal/journal_store.hpp"
#include "journal/journal_writer.hpp"
#include "journal/sqlite_db.hpp"

namespace gasched::detail {

class sqlite_store final : public journal_store {
public:
  /// Opens or creates the file at `path` and locks it (open_journal_file).
  static caf::expected<std::unique_ptr<sqlite_store>> open(const std::string& path,
                                                           const journal_options& opts);

  const std::string& where() const override {
    return db_.path();
  }
  caf::error resume(caf::actor_system& sys, journal_meta& meta, journal_names& names,
                    journal_notes& notes, journal_snapshot& snapshot) override;
  caf::error write(const commit_batch& batch, size_t& pruned) override;
  caf::error read(task_id id, bool finished_only, kept_task& out) override;

private:
  sqlite_store() = default;

  bool fresh_ = false;
  sqlite_db db_;
  journal_writer writer_;
  caf::error read_from_block(task_id id, bool finished_only, kept_task& out);
  caf::error read_end(task_id id, kept_task& out);

  sqlite_stmt select_task_, select_block_, select_end_, select_end_packs_;
  std::vector<char> block_;  // read_from_block's, kept for its capacity
};

} // namespace gasched::detail
