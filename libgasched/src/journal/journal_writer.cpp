#include "journal/journal_writer.hpp"

#include <sqlite3.h>

namespace gasched::detail {

namespace {

void bind_bytes(sqlite_stmt& stmt, int i, const change_buffer& buf, arena_ref r) {
  if (r.size == 0)
    stmt.bind_null(i);
  else
    stmt.bind_blob(i, buf.bytes(r), r.size);
}

} // namespace

caf::error journal_writer::prepare(sqlite_db& db) {
  db_ = &db;
  const std::pair<sqlite_stmt*, const char*> all[] = {
    // A running task's node and lease epoch (NULL otherwise): whom a
    // scheduler that resumes the file adopts it from (scheduler_core::adopt).
    {&insert_task_, "INSERT OR REPLACE INTO tasks(id, fn, args, priority, state, seq, "
                    "node_failures, node, epoch) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {&update_task_, "UPDATE tasks SET state=?2, seq=COALESCE(?3, seq), "
                    "node_failures=COALESCE(?4, node_failures), node=?5, epoch=?6 WHERE id=?1"},
    // A task that comes and ends within one commit: its one row, finished.
    {&insert_result_, "INSERT OR REPLACE INTO tasks(id, node, outcome, value, error, "
                      "error_text, finished_at, fn, args, priority, state, seq, "
                      "node_failures) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 2, "
                      "?1, 0)"},
    // A task already in the file: its end is appended to `ends`.
    {&finish_task_, "INSERT OR REPLACE INTO ends(id, node, outcome, value, error, "
                    "error_text, finished_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {&insert_function_, "INSERT INTO functions(fn, name) VALUES(?1, ?2)"},
    {&insert_node_, "INSERT INTO nodes(node, name) VALUES(?1, ?2)"},
    {&write_note_, "INSERT OR REPLACE INTO notes(key, value) VALUES(?1, ?2)"},
    {&write_meta_, write_meta_sql},
    // In id order (no index on finished_at): the oldest results come first.
    {&prune_, "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks "
              "WHERE state=2 AND finished_at < ?1 LIMIT ?2)"},
    {&select_old_ends_, "SELECT id FROM ends WHERE finished_at < ?1 LIMIT ?2"},
    {&delete_task_, "DELETE FROM tasks WHERE id=?1"},
    {&delete_end_, "DELETE FROM ends WHERE id=?1"},
  };
  for (auto& [stmt, sql] : all)
    if (auto err = stmt->prepare(db, sql))
      return err;
  return caf::none;
}

caf::error journal_writer::write(const commit_batch& batch, size_t& pruned) {
  pruned = 0;
  return db_->transaction("BEGIN", "cannot write it",
                          [&] { return write_all(batch, pruned); });
}

caf::error journal_writer::write_all(const commit_batch& batch, size_t& pruned) {
  for (size_t i = 0; i < batch.functions.size(); ++i) {
    insert_function_.bind(1, static_cast<int64_t>(batch.first_function + i))
      .bind(2, batch.functions[i]);
    if (auto err = insert_function_.run(*db_, "cannot write it"))
      return err;
  }
  for (size_t i = 0; i < batch.nodes.size(); ++i) {
    insert_node_.bind(1, static_cast<int64_t>(batch.first_node + i)).bind(2, batch.nodes[i]);
    if (auto err = insert_node_.run(*db_, "cannot write it"))
      return err;
  }
  for (auto& [key, value] : batch.notes) {
    write_note_.bind(1, key).bind_blob(2, value.data(), value.size());
    if (auto err = write_note_.run(*db_, "cannot write it"))
      return err;
  }
  for (auto& c : batch.changes.changes()) {
    auto err = c.state == task_state::finished ? write_result(batch.changes, c, batch.finished_at)
                                               : write_task(batch.changes, c);
    if (err)
      return err;
  }
  bind_meta(write_meta_, batch.meta);
  if (auto err = write_meta_.run(*db_, "cannot write it"))
    return err;
  if (batch.prune_before == 0)
    return caf::none;
  prune_.bind(1, batch.prune_before).bind(2, journal_store::prune_limit);
  if (auto err = prune_.run(*db_, "cannot prune old results"))
    return err;
  pruned = static_cast<size_t>(sqlite3_changes(db_->get()));
  return prune_ends(batch.prune_before, pruned);
}

// The ends that are old enough, and their tasks' rows.
caf::error journal_writer::prune_ends(int64_t before, size_t& pruned) {
  old_ids_.clear();
  select_old_ends_.bind(1, before).bind(2, journal_store::prune_limit);
  int rc;
  while ((rc = select_old_ends_.step()) == SQLITE_ROW)
    old_ids_.push_back(select_old_ends_.int64(0));
  select_old_ends_.reset();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "cannot prune old results");
  for (auto id : old_ids_) {
    if (auto err = delete_task_.bind(1, id).run(*db_, "cannot prune old results"))
      return err;
    if (auto err = delete_end_.bind(1, id).run(*db_, "cannot prune old results"))
      return err;
  }
  pruned += old_ids_.size();
  return caf::none;
}

caf::error journal_writer::write_task(const change_buffer& buf, const task_change& c) {
  auto id = static_cast<int64_t>(c.id);
  auto state = static_cast<int64_t>(c.state);
  auto running = c.state == task_state::running;
  auto& stmt = c.is_new ? insert_task_ : update_task_;
  auto [node_at, epoch_at] = c.is_new ? std::pair{8, 9} : std::pair{5, 6};
  if (running && c.node >= 0)
    stmt.bind(node_at, c.node);
  if (running)
    stmt.bind(epoch_at, int64_t{c.epoch});
  if (c.is_new) {
    insert_task_.bind(1, id).bind(2, int64_t{c.fn}).bind(4, int64_t{c.priority});
    bind_bytes(insert_task_, 3, buf, c.args);
    insert_task_.bind(5, state).bind(6, c.seq).bind(7, int64_t{c.node_failures});
    return insert_task_.run(*db_, "cannot write it");
  }
  update_task_.bind(1, id).bind(2, state);
  if (c.requeued)
    update_task_.bind(3, c.seq).bind(4, int64_t{c.node_failures});
  return update_task_.run(*db_, "cannot write it");
}

void journal_writer::bind_outcome(const change_buffer& buf, const task_change& c,
                                  int64_t finished_at) {
  auto& stmt = c.is_new ? insert_result_ : finish_task_;
  stmt.bind(1, static_cast<int64_t>(c.id));
  if (c.node >= 0)
    stmt.bind(2, c.node);
  stmt.bind(3, static_cast<int64_t>(c.how));
  bind_bytes(stmt, 4, buf, c.value);
  bind_bytes(stmt, 5, buf, c.error);
  if (c.error_text.size > 0)
    stmt.bind(6, std::string{buf.bytes(c.error_text), c.error_text.size});
  stmt.bind(7, finished_at);
}

caf::error journal_writer::write_result(const change_buffer& buf, const task_change& c,
                                        int64_t finished_at) {
  bind_outcome(buf, c, finished_at);
  if (c.is_new) {
    insert_result_.bind(8, int64_t{c.fn});
    bind_bytes(insert_result_, 9, buf, c.args);
    insert_result_.bind(10, int64_t{c.priority});
    return insert_result_.run(*db_, "cannot write it");
  }
  return finish_task_.run(*db_, "cannot write it");
}

} // namespace gasched::detail
