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

// "INSERT ... VALUES(?, ...), ...": `rows` rows of `cols` parameters.
std::string values(const char* head, int cols, int rows) {
  std::string sql = head;
  sql += " VALUES";
  for (int r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 0; c < cols; ++c)
      sql += c == 0 ? "?" : ",?";
    sql += ")";
  }
  return sql;
}

// A running task's node and lease epoch (NULL otherwise): whom a scheduler
// that resumes the file adopts it from (scheduler_core::adopt).
void bind_lease(sqlite_stmt& s, int node_at, const task_change& c) {
  auto running = c.state == task_state::running;
  if (running && c.node >= 0)
    s.bind(node_at, c.node);
  else
    s.bind_null(node_at);
  if (running)
    s.bind(node_at + 1, int64_t{c.epoch});
  else
    s.bind_null(node_at + 1);
}

// The parameters from b + 1 on, in the order of the INSERTs below.
void bind_task(sqlite_stmt& s, int b, const change_buffer& buf, const task_change& c) {
  s.bind(b + 1, static_cast<int64_t>(c.id)).bind(b + 2, int64_t{c.fn});
  bind_bytes(s, b + 3, buf, c.args);
  s.bind(b + 4, int64_t{c.priority}).bind(b + 5, static_cast<int64_t>(c.state));
  s.bind(b + 6, c.seq).bind(b + 7, int64_t{c.node_failures});
  bind_lease(s, b + 8, c);
}

// id, node, outcome, value, error, error_text, finished_at.
void bind_end(sqlite_stmt& s, int b, const change_buffer& buf, const task_change& c,
              int64_t finished_at) {
  s.bind(b + 1, static_cast<int64_t>(c.id));
  if (c.node >= 0)
    s.bind(b + 2, c.node);
  else
    s.bind_null(b + 2);
  s.bind(b + 3, static_cast<int64_t>(c.how));
  bind_bytes(s, b + 4, buf, c.value);
  bind_bytes(s, b + 5, buf, c.error);
  if (c.error_text.size > 0)
    s.bind(b + 6, std::string{buf.bytes(c.error_text), c.error_text.size});
  else
    s.bind_null(b + 6);
  s.bind(b + 7, finished_at);
}

// A task that comes and ends within one commit: its end, then fn, args,
// priority (state 2, seq its id, no node failures).
void bind_result(sqlite_stmt& s, int b, const change_buffer& buf, const task_change& c,
                 int64_t finished_at) {
  bind_end(s, b, buf, c, finished_at);
  s.bind(b + 8, int64_t{c.fn});
  bind_bytes(s, b + 9, buf, c.args);
  s.bind(b + 10, int64_t{c.priority}).bind(b + 11, int64_t{2});
  s.bind(b + 12, static_cast<int64_t>(c.id)).bind(b + 13, int64_t{0});
}

} // namespace

caf::error batched_insert::prepare(sqlite_db& db, const char* head, int cols) {
  cols_ = cols;
  n_ = 0;
  if (auto err = one_.prepare(db, values(head, cols, 1).c_str()))
    return err;
  return many_.prepare(db, values(head, cols, rows_per_step).c_str());
}

caf::error journal_writer::prepare(sqlite_db& db) {
  db_ = &db;
  const std::pair<sqlite_stmt*, const char*> all[] = {
    {&update_task_, "UPDATE tasks SET state=?2, seq=COALESCE(?3, seq), "
                    "node_failures=COALESCE(?4, node_failures), node=?5, epoch=?6 WHERE id=?1"},
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
  if (auto err = insert_tasks_.prepare(db, "INSERT OR REPLACE INTO tasks(id, fn, args, "
                                           "priority, state, seq, node_failures, node, epoch)",
                                       9))
    return err;
  // A task already in the file: its end is appended to `ends`.
  if (auto err = insert_ends_.prepare(db, "INSERT OR REPLACE INTO ends(id, node, outcome, "
                                          "value, error, error_text, finished_at)", 7))
    return err;
  // A task that comes and ends within one commit: its one row, finished.
  return insert_results_.prepare(db, "INSERT OR REPLACE INTO tasks(id, node, outcome, value, "
                                     "error, error_text, finished_at, fn, args, priority, "
                                     "state, seq, node_failures)", 13);
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
  auto& buf = batch.changes;
  auto at = batch.finished_at;
  auto task = [&](sqlite_stmt& s, int b, const task_change& c) { bind_task(s, b, buf, c); };
  auto end = [&](sqlite_stmt& s, int b, const task_change& c) { bind_end(s, b, buf, c, at); };
  auto result = [&](sqlite_stmt& s, int b, const task_change& c) {
    bind_result(s, b, buf, c, at);
  };
  insert_tasks_.clear();
  insert_ends_.clear();
  insert_results_.clear();
  for (auto& c : buf.changes()) {
    caf::error err;
    if (c.state == task_state::finished)
      err = c.is_new ? insert_results_.add(*db_, c, result) : insert_ends_.add(*db_, c, end);
    else if (c.is_new)
      err = insert_tasks_.add(*db_, c, task);
    else
      err = update_task(c);
    if (err)
      return err;
  }
  if (auto err = insert_tasks_.flush(*db_, task))
    return err;
  if (auto err = insert_ends_.flush(*db_, end))
    return err;
  if (auto err = insert_results_.flush(*db_, result))
    return err;
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

caf::error journal_writer::update_task(const task_change& c) {
  update_task_.bind(1, static_cast<int64_t>(c.id)).bind(2, static_cast<int64_t>(c.state));
  bind_lease(update_task_, 5, c);
  if (c.requeued)
    update_task_.bind(3, c.seq).bind(4, int64_t{c.node_failures});
  return update_task_.run(*db_, "cannot write it");
}

} // namespace gasched::detail
