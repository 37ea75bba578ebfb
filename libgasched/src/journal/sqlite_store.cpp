#include "journal/sqlite_store.hpp"

#include <sqlite3.h>

#include "gasched/errc.hpp"
#include "journal/journal_file.hpp"
#include "journal/resume.hpp"
#include "journal/task_block.hpp"

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
  if (auto err = select_block_.prepare(db_, "SELECT first_id, last_id, tasks FROM blocks "
                                            "WHERE first_id <= ?1 ORDER BY first_id DESC "
                                            "LIMIT 1"))
    return err;
  if (auto err = select_end_.prepare(db_, "SELECT node, outcome, value, error, finished_at "
                                          "FROM ends WHERE id=?1"))
    return err;
  // The packs that may hold the end of ?1: none starts more than max_span
  // ids before it.
  if (auto err = select_end_packs_.prepare(db_, "SELECT first_id, last_id, finished_at, ends "
                                                "FROM end_packs WHERE first_id <= ?1 AND "
                                                "first_id >= ?2 ORDER BY first_id DESC"))
    return err;
  // Finished within the commit that accepted it: state 2, the end columns
  // set. Else its end is in `ends` or a pack.
  return select_task_.prepare(db_, "SELECT fn, args, priority, state, node, outcome, value, "
                                   "error, finished_at FROM tasks WHERE id=?1");
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

// A task's end from columns first.. of `s`: node, outcome, value, error,
// finished_at (the ends table and the task row give them in this order).
void copy_end(sqlite_stmt& s, int first, kept_task& out) {
  out.node = s.is_null(first) ? -1 : s.int64(first);
  out.how = static_cast<outcome_kind>(s.int64(first + 1));
  copy_blob(s, first + 2, out.value);
  copy_blob(s, first + 3, out.error);
  out.finished_at = s.int64(first + 4);
}

caf::error unknown(task_id id, bool finished_only) {
  return finished_only
           ? make_error(errc::unknown_task, "no result of task " + std::to_string(id)
                                              + " is kept: unfinished, never accepted, or "
                                                "pruned")
           : make_error(errc::unknown_task, "task " + std::to_string(id)
                                              + " is not in the journal");
}

} // namespace

// A task of a block: its bytes there, its end in a pack (or a row of `ends`).
caf::error sqlite_store::read_from_block(task_id id, bool finished_only, kept_task& out) {
  auto key = static_cast<int64_t>(id);
  select_block_.bind(1, key);
  auto rc = select_block_.step();
  if (rc != SQLITE_ROW || select_block_.int64(1) < key) {
    select_block_.reset();
    return rc == SQLITE_ROW || rc == SQLITE_DONE
             ? unknown(id, finished_only)
             : db_.fail(rc, "cannot read task " + std::to_string(id));
  }
  auto first = select_block_.int64(0);
  auto [data, size] = select_block_.blob(2);
  block_.assign(static_cast<const char*>(data), static_cast<const char*>(data) + size);
  select_block_.reset();
  block_reader in{block_.data(), block_.size()};
  block_task t;
  while (in.next(t) && t.id < key)
    continue;
  if (in.damaged())
    return make_error(errc::journal_error, "journal " + db_.path() + ": cannot read task "
                                             + std::to_string(id) + ": the block of tasks from "
                                             + std::to_string(first) + " is damaged");
  if (t.id != key || t.args == nullptr)
    return unknown(id, finished_only);
  out.fn = t.fn;
  out.args.assign(t.args, t.args + t.args_size);
  out.priority = t.priority;
  return finished_only ? read_end(id, out) : caf::none;
}

// The end of a task accepted by an earlier commit: a row of `ends` (format
// 5), or in a pack.
caf::error sqlite_store::read_end(task_id id, kept_task& out) {
  auto key = static_cast<int64_t>(id);
  auto fail = [&](int rc) { return db_.fail(rc, "cannot read task " + std::to_string(id)); };
  select_end_.bind(1, key);
  auto rc = select_end_.step();
  if (rc == SQLITE_ROW)
    copy_end(select_end_, 0, out);
  select_end_.reset();
  if (rc == SQLITE_ROW)
    return caf::none;
  if (rc != SQLITE_DONE)
    return fail(rc);
  select_end_packs_.bind(1, key).bind(2, key - end_pack_writer::max_span);
  while ((rc = select_end_packs_.step()) == SQLITE_ROW) {
    if (select_end_packs_.int64(1) < key)
      continue;
    auto first = select_end_packs_.int64(0);
    auto [data, size] = select_end_packs_.blob(3);
    end_pack_reader in{data, size};
    packed_end e;
    while (in.next(e) && e.id < key)
      continue;
    if (in.damaged()) {
      select_end_packs_.reset();
      return make_error(errc::journal_error, "journal " + db_.path() + ": cannot read task "
                                               + std::to_string(id) + ": the ends from "
                                               + std::to_string(first) + " are damaged");
    }
    if (e.id != key)
      continue;
    out.node = e.node;
    out.how = static_cast<outcome_kind>(e.how);
    out.value.assign(e.value, e.value + e.value_size);
    out.error.assign(e.error, e.error + e.error_size);
    out.finished_at = select_end_packs_.int64(2);
    select_end_packs_.reset();
    return caf::none;
  }
  select_end_packs_.reset();
  return rc == SQLITE_DONE ? unknown(id, true) : fail(rc);
}

caf::error sqlite_store::read(task_id id, bool finished_only, kept_task& out) {
  auto& s = select_task_;
  s.bind(1, static_cast<int64_t>(id));
  auto rc = s.step();
  if (rc == SQLITE_DONE) {
    s.reset();
    return read_from_block(id, finished_only, out);
  }
  if (rc != SQLITE_ROW) {
    auto err = db_.fail(rc, "cannot read task " + std::to_string(id));
    s.reset();
    return err;
  }
  out.fn = static_cast<uint32_t>(s.int64(0));
  copy_blob(s, 1, out.args);
  out.priority = static_cast<int32_t>(s.int64(2));
  auto finished_here = s.int64(3) == 2;
  if (finished_only && finished_here)
    copy_end(s, 4, out);
  s.reset();
  return finished_only && !finished_here ? read_end(id, out) : caf::none;
}

} // namespace gasched::detail
