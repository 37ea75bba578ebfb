#include "journal/sqlite_store.hpp"

#include <sqlite3.h>

#include "gasched/errc.hpp"
#include "journal/journal_file.hpp"
#include "journal/resume.hpp"

namespace gasched::detail {

journal_store::~journal_store() = default;

caf::expected<std::unique_ptr<sqlite_store>> sqlite_store::open(const std::string& path,
                                                                const journal_options& opts) {
  std::unique_ptr<sqlite_store> s{new sqlite_store};
  if (auto err = open_journal_file(path, opts, s->db_, s->fresh_))
    return err;
  return s;
}

caf::error sqlite_store::resume(caf::actor_system& sys, journal_meta& meta,
                                journal_names& names, journal_notes& notes,
                                journal_snapshot& snapshot) {
  if (auto err = resume_journal(db_, sys, fresh_, meta, names, notes, snapshot))
    return err;
  // After resuming: it gives a journal of an earlier version its notes table.
  if (auto err = writer_.prepare(db_))
    return err;
  // Finished: its row has state 2 (the end columns set), or it has an end in
  // `ends` (its row's end columns are null).
  if (auto err = select_result_.prepare(
        db_, "SELECT t.fn, t.args, t.priority, COALESCE(e.node, t.node), "
             "COALESCE(e.outcome, t.outcome), COALESCE(e.value, t.value), "
             "COALESCE(e.error, t.error), COALESCE(e.finished_at, t.finished_at) "
             "FROM tasks t LEFT JOIN ends e ON e.id = t.id "
             "WHERE t.id=?1 AND (t.state=2 OR e.id IS NOT NULL)"))
    return err;
  return select_task_.prepare(db_, "SELECT fn, args, priority FROM tasks WHERE id=?1");
}

caf::error sqlite_store::write(const commit_batch& batch, size_t& pruned) {
  return writer_.write(batch, pruned);
}

namespace {

void copy_blob(sqlite_stmt& s, int col, std::vector<char>& out) {
  auto [data, size] = s.blob(col);
  auto bytes = static_cast<const char*>(data);
  out.assign(bytes, bytes + size);
}

} // namespace

caf::error sqlite_store::read(task_id id, bool finished_only, kept_task& out) {
  auto& s = finished_only ? select_result_ : select_task_;
  s.bind(1, static_cast<int64_t>(id));
  auto rc = s.step();
  if (rc != SQLITE_ROW) {
    auto err = rc != SQLITE_DONE ? db_.fail(rc, "cannot read task " + std::to_string(id))
               : finished_only
                 ? make_error(errc::unknown_task, "no result of task " + std::to_string(id)
                                                    + " is kept: unfinished, never "
                                                      "accepted, or pruned")
                 : make_error(errc::unknown_task, "task " + std::to_string(id)
                                                    + " is not in the journal");
    s.reset();
    return err;
  }
  out.fn = static_cast<uint32_t>(s.int64(0));
  copy_blob(s, 1, out.args);
  out.priority = static_cast<int32_t>(s.int64(2));
  if (finished_only) {
    out.node = s.is_null(3) ? -1 : s.int64(3);
    out.how = static_cast<outcome_kind>(s.int64(4));
    copy_blob(s, 5, out.value);
    copy_blob(s, 6, out.error);
    out.finished_at = s.int64(7);
  }
  s.reset();
  return caf::none;
}

} // namespace gasched::detail
