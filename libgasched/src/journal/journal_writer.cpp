#include "journal/journal_writer.hpp"

#include <algorithm>

#include <sqlite3.h>

#include "gasched/errc.hpp"

namespace gasched::detail {

namespace {

void bind_bytes(sqlite_stmt& stmt, int i, const change_buffer& buf, arena_ref r) {
  if (r.size == 0)
    stmt.bind_null(i);
  else
    stmt.bind_blob(i, buf.bytes(r), r.size);
}

// "INSERT ... VALUES(?, ...), ... tail": `rows` rows of `cols` parameters.
std::string values(const char* head, int cols, int rows, const char* tail) {
  std::string sql = head;
  sql += " VALUES";
  for (int r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 0; c < cols; ++c)
      sql += c == 0 ? "?" : ",?";
    sql += ")";
  }
  return sql + tail;
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

// A block's task changed by a later commit: id, state, seq, node_failures
// (NULL unless requeued: unchanged), node, epoch.
void bind_move(sqlite_stmt& s, int b, const task_change& c) {
  s.bind(b + 1, static_cast<int64_t>(c.id)).bind(b + 2, static_cast<int64_t>(c.state));
  if (c.requeued)
    s.bind(b + 3, c.seq).bind(b + 4, int64_t{c.node_failures});
  else
    s.bind_null(b + 3).bind_null(b + 4);
  bind_lease(s, b + 5, c);
}

} // namespace

caf::error batched_insert::prepare(sqlite_db& db, const char* head, int cols,
                                   const char* tail) {
  cols_ = cols;
  n_ = 0;
  if (auto err = one_.prepare(db, values(head, cols, 1, tail).c_str()))
    return err;
  return many_.prepare(db, values(head, cols, rows_per_step, tail).c_str());
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
    {&delete_move_, "DELETE FROM moves WHERE id=?1"},
    {&insert_block_, "INSERT INTO blocks(first_id, last_id, tasks) VALUES(?1, ?2, ?3)"},
    {&select_block_, "SELECT first_id, last_id, tasks FROM blocks WHERE first_id <= ?1 "
                     "ORDER BY first_id DESC LIMIT 1"},
    {&update_block_, "UPDATE blocks SET tasks=?2 WHERE first_id=?1"},
    {&delete_block_, "DELETE FROM blocks WHERE first_id=?1"},
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
  // A block's task dispatched or requeued: what changed, over what was.
  if (auto err = insert_moves_.prepare(db, "INSERT INTO moves(id, state, seq, node_failures, "
                                           "node, epoch)", 6,
                                       " ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
                                       "seq=COALESCE(excluded.seq, seq), "
                                       "node_failures=COALESCE(excluded.node_failures, "
                                       "node_failures), node=excluded.node, "
                                       "epoch=excluded.epoch"))
    return err;
  // A task that comes and ends within one commit: its one row, finished.
  if (auto err = insert_results_.prepare(db, "INSERT OR REPLACE INTO tasks(id, node, outcome, "
                                             "value, error, error_text, finished_at, fn, args, "
                                             "priority, state, seq, node_failures)", 13))
    return err;
  sqlite_stmt ranges;
  if (auto err = ranges.prepare(db, "SELECT first_id, last_id FROM blocks ORDER BY first_id"))
    return err;
  blocks_.clear();
  int rc;
  while ((rc = ranges.step()) == SQLITE_ROW)
    blocks_.emplace_back(ranges.int64(0), ranges.int64(1));
  return rc == SQLITE_DONE ? caf::none : db.fail(rc, "cannot read it");
}

caf::error journal_writer::write(const commit_batch& batch, size_t& pruned) {
  pruned = 0;
  auto blocks = blocks_.size();
  auto err = db_->transaction("BEGIN", "cannot write it",
                              [&] { return write_all(batch, pruned); });
  if (err)
    blocks_.resize(blocks);  // none of them was written
  return err;
}

bool journal_writer::in_block(task_id id) const {
  auto x = static_cast<int64_t>(id);
  if (blocks_.empty() || x < blocks_.front().first)
    return false;
  // The last block whose first id is at most x.
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), x,
                             [](int64_t v, const auto& r) { return v < r.first; });
  return x <= std::prev(it)->second;
}

caf::error journal_writer::add_to_block(const change_buffer& buf, const task_change& c) {
  auto running = c.state == task_state::running;
  block_task t;
  t.id = static_cast<int64_t>(c.id);
  t.fn = c.fn;
  t.priority = c.priority;
  t.state = running ? 1 : 0;
  t.seq = c.seq;
  t.node_failures = c.node_failures;
  t.node = running ? c.node : -1;
  t.epoch = running ? c.epoch : 0;
  t.args = buf.bytes(c.args);
  t.args_size = c.args.size;
  block_.add(t);
  return block_.size() < block_writer::max_tasks ? caf::none : write_block();
}

caf::error journal_writer::write_block() {
  if (block_.size() == 0)
    return caf::none;
  auto& bytes = block_.bytes();
  insert_block_.bind(1, block_.first_id()).bind(2, block_.last_id());
  insert_block_.bind_blob(3, bytes.data(), bytes.size());
  blocks_.emplace_back(block_.first_id(), block_.last_id());
  auto err = insert_block_.run(*db_, "cannot write it");
  block_.clear();
  return err;
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
  auto move = [&](sqlite_stmt& s, int b, const task_change& c) { bind_move(s, b, c); };
  insert_tasks_.clear();
  insert_ends_.clear();
  insert_results_.clear();
  insert_moves_.clear();
  block_.clear();
  size_t accepted = 0;  // new and unfinished
  for (auto& c : buf.changes())
    accepted += c.is_new && c.state != task_state::finished ? 1 : 0;
  auto pack = accepted >= block_min_tasks;
  for (auto& c : buf.changes()) {
    caf::error err;
    if (c.state == task_state::finished)
      err = c.is_new ? insert_results_.add(*db_, c, result) : insert_ends_.add(*db_, c, end);
    else if (c.is_new)
      err = pack ? add_to_block(buf, c) : insert_tasks_.add(*db_, c, task);
    else if (in_block(c.id))
      err = insert_moves_.add(*db_, c, move);
    else
      err = update_task(c);
    if (err)
      return err;
  }
  if (auto err = write_block())
    return err;
  if (auto err = insert_moves_.flush(*db_, move))
    return err;
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
  std::vector<int64_t> in_blocks;
  for (auto id : old_ids_) {
    if (auto err = delete_task_.bind(1, id).run(*db_, "cannot prune old results"))
      return err;
    if (sqlite3_changes(db_->get()) == 0)
      in_blocks.push_back(id);  // no row of its own: in a block
    if (auto err = delete_end_.bind(1, id).run(*db_, "cannot prune old results"))
      return err;
    if (auto err = delete_move_.bind(1, id).run(*db_, "cannot prune old results"))
      return err;
  }
  pruned += old_ids_.size();
  return prune_blocks(in_blocks);
}

// The pruned tasks `ids` out of their blocks: each block written again
// without them, or deleted when none is left.
caf::error journal_writer::prune_blocks(std::vector<int64_t>& ids) {
  std::sort(ids.begin(), ids.end());
  std::vector<char> bytes;
  for (size_t i = 0; i < ids.size();) {
    select_block_.bind(1, ids[i]);
    auto rc = select_block_.step();
    if (rc != SQLITE_ROW) {
      select_block_.reset();
      if (rc != SQLITE_DONE)
        return db_->fail(rc, "cannot prune old results");
      ++i;  // in no block (an end whose task was never kept): nothing to do
      continue;
    }
    auto first = select_block_.int64(0);
    auto last = select_block_.int64(1);
    if (ids[i] > last) {
      select_block_.reset();
      ++i;  // in no block (an end whose task was never kept): nothing to do
      continue;
    }
    auto [data, size] = select_block_.blob(2);
    bytes.assign(static_cast<const char*>(data), static_cast<const char*>(data) + size);
    select_block_.reset();
    block_.clear();
    block_reader in{bytes.data(), bytes.size()};
    block_task t;
    auto j = i;
    while (in.next(t)) {
      while (j < ids.size() && ids[j] < t.id)
        ++j;
      if (j == ids.size() || ids[j] != t.id)
        block_.add(t);
    }
    if (in.damaged())
      return make_error(errc::journal_error, "journal " + db_->path() + ": the file is corrupt "
                                               "(the block of tasks from "
                                               + std::to_string(first) + " is damaged)");
    auto err = block_.size() == 0
                 ? delete_block_.bind(1, first).run(*db_, "cannot prune old results")
                 : update_block_.bind(1, first)
                     .bind_blob(2, block_.bytes().data(), block_.bytes().size())
                     .run(*db_, "cannot prune old results");
    block_.clear();
    if (err)
      return err;
    while (i < ids.size() && ids[i] <= last)
      ++i;
  }
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
