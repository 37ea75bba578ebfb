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

// A task that comes and ends within one commit: id, node, outcome, value,
// error, error_text, finished_at, then fn, args, priority (state 2, seq its
// id, no node failures).
void bind_result(sqlite_stmt& s, int b, const change_buffer& buf, const task_change& c,
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
  s.bind(b + 8, int64_t{c.fn});
  bind_bytes(s, b + 9, buf, c.args);
  s.bind(b + 10, int64_t{c.priority}).bind(b + 11, int64_t{2});
  s.bind(b + 12, static_cast<int64_t>(c.id)).bind(b + 13, int64_t{0});
}

bool by_id(const task_change* a, const task_change* b) {
  return a->id < b->id;
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
    {&insert_end_pack_, "INSERT INTO end_packs(first_id, last_id, finished_at, ends) "
                        "VALUES(?1, ?2, ?3, ?4)"},
    {&select_old_end_packs_, "SELECT first_id, last_id, ends FROM end_packs "
                             "WHERE finished_at < ?1"},
    {&delete_end_pack_, "DELETE FROM end_packs WHERE first_id=?1"},
    {&insert_move_pack_, "INSERT INTO move_packs(seq, moves) VALUES(?1, ?2)"},
    {&delete_move_pack_, "DELETE FROM move_packs WHERE seq=?1"},
  };
  for (auto& [stmt, sql] : all)
    if (auto err = stmt->prepare(db, sql))
      return err;
  if (auto err = insert_tasks_.prepare(db, "INSERT OR REPLACE INTO tasks(id, fn, args, "
                                           "priority, state, seq, node_failures, node, epoch)",
                                       9))
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
  if (rc != SQLITE_DONE)
    return db.fail(rc, "cannot read it");
  sqlite_stmt legacy;
  if (auto err = legacy.prepare(db, "SELECT EXISTS(SELECT 1 FROM moves)"))
    return err;
  if ((rc = legacy.step()) != SQLITE_ROW)
    return db.fail(rc, "cannot read it");
  legacy_moves_ = legacy.int64(0) != 0;
  return read_move_packs();
}

// Which pack holds each block task's last move: the packs in the order
// written, a later move replacing an earlier one. (Resume checked them.)
caf::error journal_writer::read_move_packs() {
  last_moves_.clear();
  live_.clear();
  next_pack_ = 1;
  sqlite_stmt packs;
  if (auto err = packs.prepare(*db_, "SELECT seq, moves FROM move_packs ORDER BY seq"))
    return err;
  std::vector<int64_t> seen;
  int rc;
  while ((rc = packs.step()) == SQLITE_ROW) {
    auto seq = packs.int64(0);
    seen.push_back(seq);
    auto [data, size] = packs.blob(1);
    move_pack_reader in{data, size};
    packed_move m;
    while (in.next(m)) {
      auto [it, added] = last_moves_.emplace(m.id, last_move{seq, m});
      if (!added) {
        auto old = std::exchange(it->second, last_move{seq, m}).pack;
        if (--live_[old] == 0)
          live_.erase(old);
      }
      ++live_[seq];
    }
    next_pack_ = seq + 1;
  }
  // Packs whose every move a later one replaced (resume requeues running
  // tasks in a pack of its own) go with the next commit.
  dead_packs_.clear();
  for (auto seq : seen)
    if (live_.count(seq) == 0)
      dead_packs_.push_back(seq);
  return rc == SQLITE_DONE ? caf::none : db_->fail(rc, "cannot read it");
}

caf::error journal_writer::write(const commit_batch& batch, size_t& pruned) {
  pruned = 0;
  auto blocks = blocks_.size();
  auto err = db_->transaction("BEGIN", "cannot write it",
                              [&] { return write_all(batch, pruned); });
  if (err)
    blocks_.resize(blocks);  // none of them was written
  else
    settle();
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
  auto result = [&](sqlite_stmt& s, int b, const task_change& c) {
    bind_result(s, b, buf, c, at);
  };
  insert_tasks_.clear();
  insert_results_.clear();
  block_.clear();
  ends_.clear();
  moves_.clear();
  written_.clear();
  size_t accepted = 0;  // new and unfinished
  for (auto& c : buf.changes())
    accepted += c.is_new && c.state != task_state::finished ? 1 : 0;
  auto pack = accepted >= block_min_tasks;
  for (auto& c : buf.changes()) {
    caf::error err;
    if (c.state == task_state::finished && c.is_new)
      err = insert_results_.add(*db_, c, result);
    else if (c.state == task_state::finished)
      ends_.push_back(&c);
    else if (c.is_new)
      err = pack ? add_to_block(buf, c) : insert_tasks_.add(*db_, c, task);
    else if (in_block(c.id))
      moves_.push_back(&c);
    else
      err = update_task(c);
    if (err)
      return err;
  }
  if (auto err = write_block())
    return err;
  if (auto err = insert_tasks_.flush(*db_, task))
    return err;
  if (auto err = insert_results_.flush(*db_, result))
    return err;
  if (auto err = write_end_packs(buf, at))
    return err;
  if (auto err = write_move_pack())
    return err;
  if (auto err = drop_dead_move_packs())
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

// The ends of tasks accepted by earlier commits, in packs of ids close
// together: await finds one among a few packs (sqlite_store::read_end).
caf::error journal_writer::write_end_packs(const change_buffer& buf, int64_t finished_at) {
  // Mostly in order already: nodes end their tasks nearly as dispatched.
  if (!std::is_sorted(ends_.begin(), ends_.end(), by_id))
    std::sort(ends_.begin(), ends_.end(), by_id);
  auto flush = [&] {
    if (end_pack_.size() == 0)
      return caf::error{};
    auto& bytes = end_pack_.bytes();
    insert_end_pack_.bind(1, end_pack_.first_id()).bind(2, end_pack_.last_id());
    insert_end_pack_.bind(3, finished_at).bind_blob(4, bytes.data(), bytes.size());
    auto err = insert_end_pack_.run(*db_, "cannot write it");
    end_pack_.clear();
    return err;
  };
  end_pack_.clear();
  for (auto c : ends_) {
    auto id = static_cast<int64_t>(c->id);
    if (!end_pack_.fits(id))
      if (auto err = flush())
        return err;
    packed_end e;
    e.id = id;
    e.node = c->node;
    e.how = static_cast<uint8_t>(c->how);
    e.value = buf.bytes(c->value);
    e.value_size = c->value.size;
    e.error = buf.bytes(c->error);
    e.error_size = c->error.size;
    end_pack_.add(e);
  }
  return flush();
}

// The moves of block tasks, one pack per commit.
caf::error journal_writer::write_move_pack() {
  if (moves_.empty())
    return caf::none;
  if (!std::is_sorted(moves_.begin(), moves_.end(), by_id))
    std::sort(moves_.begin(), moves_.end(), by_id);
  move_pack_.clear();
  written_.clear();
  for (auto c : moves_) {
    auto running = c->state == task_state::running;
    packed_move m;
    m.id = static_cast<int64_t>(c->id);
    m.state = running ? 1 : 0;
    m.has_seq = m.has_node_failures = c->requeued;
    m.seq = c->seq;
    m.node_failures = c->node_failures;
    if (auto it = last_moves_.find(m.id); !c->requeued && it != last_moves_.end()) {
      auto& before = it->second.move;  // what an earlier requeue set
      m.has_seq = before.has_seq;
      m.seq = before.seq;
      m.has_node_failures = before.has_node_failures;
      m.node_failures = before.node_failures;
    }
    m.node = running ? c->node : -1;  // a running task's lease, for adoption
    m.epoch = running ? int64_t{c->epoch} : -1;
    move_pack_.add(m);
    written_.push_back(m);
  }
  auto& bytes = move_pack_.bytes();
  return insert_move_pack_.bind(1, next_pack_)
    .bind_blob(2, bytes.data(), bytes.size())
    .run(*db_, "cannot write it");
}

// The packs whose every move this commit replaced or ended.
caf::error journal_writer::drop_dead_move_packs() {
  for (auto seq : dead_packs_)
    if (auto err = delete_move_pack_.bind(1, seq).run(*db_, "cannot write it"))
      return err;
  leaving_.clear();
  for (auto* list : {&ends_, &moves_})
    for (auto c : *list)
      if (auto it = last_moves_.find(static_cast<int64_t>(c->id)); it != last_moves_.end())
        leaving_.push_back(it->second.pack);
  std::sort(leaving_.begin(), leaving_.end());
  for (size_t i = 0; i < leaving_.size();) {
    auto seq = leaving_[i];
    auto j = i;
    while (j < leaving_.size() && leaving_[j] == seq)
      ++j;
    if (auto live = live_.find(seq); live != live_.end() && live->second == j - i)
      if (auto err = delete_move_pack_.bind(1, seq).run(*db_, "cannot write it"))
        return err;
    i = j;
  }
  return caf::none;
}

// The commit is written: its moves count, and those it replaced or ended no
// longer do.
void journal_writer::settle() {
  dead_packs_.clear();
  auto leave = [&](int64_t id) {
    auto it = last_moves_.find(id);
    if (it == last_moves_.end())
      return it;
    if (auto live = live_.find(it->second.pack); live != live_.end() && --live->second == 0)
      live_.erase(live);
    return it;
  };
  for (auto c : ends_)
    if (auto it = leave(static_cast<int64_t>(c->id)); it != last_moves_.end())
      last_moves_.erase(it);
  if (written_.empty())
    return;
  for (auto& m : written_) {
    leave(m.id);
    last_moves_[m.id] = last_move{next_pack_, m};
  }
  live_[next_pack_] = static_cast<uint32_t>(written_.size());
  ++next_pack_;
  written_.clear();
}

// The ends that are old enough (rows of format 5, then packs), and their
// tasks' rows.
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
    if (auto err = prune_task(id, in_blocks))
      return err;
    if (auto err = delete_end_.bind(1, id).run(*db_, "cannot prune old results"))
      return err;
  }
  pruned += old_ids_.size();
  if (pruned < static_cast<size_t>(journal_store::prune_limit))
    if (auto err = prune_end_packs(before, pruned, in_blocks))
      return err;
  return prune_blocks(in_blocks);
}

// Whole packs of old ends, until prune_limit results went.
caf::error journal_writer::prune_end_packs(int64_t before, size_t& pruned,
                                           std::vector<int64_t>& in_blocks) {
  old_ids_.clear();
  std::vector<int64_t> packs;
  select_old_end_packs_.bind(1, before);
  int rc = SQLITE_DONE;
  while (pruned + old_ids_.size() < static_cast<size_t>(journal_store::prune_limit)
         && (rc = select_old_end_packs_.step()) == SQLITE_ROW) {
    auto first = select_old_end_packs_.int64(0);
    auto last = select_old_end_packs_.int64(1);
    auto [data, size] = select_old_end_packs_.blob(2);
    if (!read_end_ids(data, size, first, last, old_ids_)) {
      select_old_end_packs_.reset();
      return make_error(errc::journal_error, "journal " + db_->path() + ": the file is "
                                               "corrupt (the ends from "
                                               + std::to_string(first) + " are damaged)");
    }
    packs.push_back(first);
    rc = SQLITE_DONE;  // this row is read; a stop here is no error
  }
  select_old_end_packs_.reset();
  if (rc != SQLITE_DONE)
    return db_->fail(rc, "cannot prune old results");
  for (auto id : old_ids_)
    if (auto err = prune_task(id, in_blocks))
      return err;
  for (auto first : packs)
    if (auto err = delete_end_pack_.bind(1, first).run(*db_, "cannot prune old results"))
      return err;
  pruned += old_ids_.size();
  return caf::none;
}

// A pruned task's row, or its place in a block (`in_blocks`), and a move
// row of format 5. (Its moves in packs stopped counting when it ended.)
caf::error journal_writer::prune_task(int64_t id, std::vector<int64_t>& in_blocks) {
  if (auto err = delete_task_.bind(1, id).run(*db_, "cannot prune old results"))
    return err;
  if (sqlite3_changes(db_->get()) == 0)
    in_blocks.push_back(id);  // no row of its own: in a block
  if (legacy_moves_)
    return delete_move_.bind(1, id).run(*db_, "cannot prune old results");
  return caf::none;
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
