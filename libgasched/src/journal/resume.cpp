#include "journal/resume.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <unordered_map>

#include <sqlite3.h>

#include "gasched/errc.hpp"
#include "journal/blob.hpp"
#include "journal/change_pack.hpp"
#include "journal/journal_file.hpp"
#include "journal/task_block.hpp"

namespace gasched::detail {

namespace {

caf::error corrupt(const sqlite_db& db, const std::string& what) {
  return make_error(errc::journal_error,
                    "journal " + db.path() + ": the file is corrupt (" + what + ")");
}

// Interned names, numbered 0, 1, ... in the order they were first used.
caf::error read_names(sqlite_db& db, const char* sql, std::vector<std::string>& out) {
  sqlite_stmt stmt;
  if (auto err = stmt.prepare(db, sql))
    return err;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    if (stmt.int64(0) != static_cast<int64_t>(out.size()))
      return corrupt(db, std::string{"names out of sequence: "} + sql);
    out.push_back(stmt.text(1));
  }
  return rc == SQLITE_DONE ? caf::none : db.fail(rc, "cannot read it");
}

// Clients' notes; a journal of an earlier version gets their table.
caf::error read_notes(sqlite_db& db, journal_notes& notes) {
  if (auto err = db.exec("CREATE TABLE IF NOT EXISTS notes(key TEXT PRIMARY KEY, "
                         "value BLOB NOT NULL)",
                         "cannot write it"))
    return err;
  sqlite_stmt stmt;
  if (auto err = stmt.prepare(db, "SELECT key, value FROM notes"))
    return err;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    auto [data, size] = stmt.blob(1);
    notes[stmt.text(0)].assign(static_cast<const char*>(data), size);
  }
  return rc == SQLITE_DONE ? caf::none : db.fail(rc, "cannot read it");
}

// A task as resume reads it, before its arguments are decoded.
struct read_task {
  int64_t id = 0;
  int64_t fn = 0;
  const void* args = nullptr;
  size_t args_size = 0;
  int64_t priority = 0, state = 0, seq = 0, node_failures = 0;
  int64_t node = -1, epoch = -1;  // -1: none kept
};

// Where resume found a task: its row, or a block (its changes go to move packs).
struct found_at {
  bool in_block = false;
  int64_t node = -1;   // the journal's node number, -1: none
  int64_t epoch = -1;  // -1: none
};

class task_reader {
public:
  task_reader(sqlite_db& db, caf::actor_system& sys, const journal_names& names,
              std::vector<restored_task>& tasks, std::vector<int64_t>& seqs,
              std::vector<size_t>& running, std::vector<found_at>& where)
    : db_(db), sys_(sys), names_(names), tasks_(tasks), seqs_(seqs), running_(running),
      where_(where) {
  }

  caf::error read() {
    if (auto err = read_ends())
      return err;
    if (auto err = read_moves())
      return err;
    if (auto err = read_rows())
      return err;
    return read_blocks();
  }

private:
  bool ended(int64_t id) const {
    return std::binary_search(ends_.begin(), ends_.end(), id);
  }

  // The rows of `ends` (format 5), then the packs.
  caf::error read_ends() {
    sqlite_stmt stmt;
    if (auto err = stmt.prepare(db_, "SELECT id FROM ends ORDER BY id"))
      return err;
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW)
      ends_.push_back(stmt.int64(0));
    if (rc != SQLITE_DONE)
      return db_.fail(rc, "cannot read it");
    sqlite_stmt packs;
    if (auto err = packs.prepare(db_, "SELECT first_id, last_id, ends FROM end_packs "
                                      "ORDER BY first_id"))
      return err;
    while ((rc = packs.step()) == SQLITE_ROW) {
      auto first = packs.int64(0);
      auto [data, size] = packs.blob(2);
      if (!read_end_ids(data, size, first, packs.int64(1), ends_))
        return corrupt(db_, "the ends from " + std::to_string(first) + " are damaged");
    }
    if (!std::is_sorted(ends_.begin(), ends_.end()))
      std::sort(ends_.begin(), ends_.end());
    return rc == SQLITE_DONE ? caf::none : db_.fail(rc, "cannot read it");
  }

  // The rows of `moves` (format 5), then the packs in the order written: a
  // later move of a task replaces an earlier one.
  caf::error read_moves() {
    sqlite_stmt stmt;
    if (auto err = stmt.prepare(db_, "SELECT id, state, seq, node_failures, node, epoch "
                                     "FROM moves"))
      return err;
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
      packed_move m;
      m.state = stmt.int64(1);
      m.has_seq = !stmt.is_null(2);
      m.seq = stmt.int64(2);
      m.has_node_failures = !stmt.is_null(3);
      m.node_failures = stmt.int64(3);
      m.node = stmt.is_null(4) ? -1 : stmt.int64(4);
      m.epoch = stmt.is_null(5) ? -1 : stmt.int64(5);
      moves_[stmt.int64(0)] = m;
    }
    if (rc != SQLITE_DONE)
      return db_.fail(rc, "cannot read it");
    sqlite_stmt packs;
    if (auto err = packs.prepare(db_, "SELECT seq, moves FROM move_packs ORDER BY seq"))
      return err;
    while ((rc = packs.step()) == SQLITE_ROW) {
      auto [data, size] = packs.blob(1);
      move_pack_reader in{data, size};
      packed_move m;
      while (in.next(m)) {
        // A move leaves what it does not set (seq, node_failures) as the
        // one before it, as a row of format 5 did.
        auto& kept = moves_[m.id];
        if (!m.has_seq && kept.has_seq) {
          m.has_seq = true;
          m.seq = kept.seq;
        }
        if (!m.has_node_failures && kept.has_node_failures) {
          m.has_node_failures = true;
          m.node_failures = kept.node_failures;
        }
        kept = m;
      }
      if (in.damaged())
        return corrupt(db_, "the moves of pack " + std::to_string(packs.int64(0))
                              + " are damaged");
    }
    return rc == SQLITE_DONE ? caf::none : db_.fail(rc, "cannot read it");
  }

  caf::error read_rows() {
    sqlite_stmt stmt;
    if (auto err = stmt.prepare(db_, "SELECT id, fn, args, priority, state, seq, node_failures, "
                                     "node, epoch FROM tasks WHERE state < 2 ORDER BY id"))
      return err;
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
      read_task t;
      t.id = stmt.int64(0);
      if (ended(t.id))
        continue;
      t.fn = stmt.int64(1);
      std::tie(t.args, t.args_size) = stmt.blob(2);
      t.priority = stmt.int64(3);
      t.state = stmt.int64(4);
      t.seq = stmt.int64(5);
      t.node_failures = stmt.int64(6);
      t.node = stmt.is_null(7) ? -1 : stmt.int64(7);
      t.epoch = stmt.is_null(8) ? -1 : stmt.int64(8);
      if (auto err = add(t, false))
        return err;
    }
    return rc == SQLITE_DONE ? caf::none : db_.fail(rc, "cannot read it");
  }

  caf::error read_blocks() {
    sqlite_stmt stmt;
    if (auto err = stmt.prepare(db_, "SELECT first_id, last_id, tasks FROM blocks "
                                     "ORDER BY first_id"))
      return err;
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
      auto first = stmt.int64(0);
      auto last = stmt.int64(1);
      auto [data, size] = stmt.blob(2);
      block_reader in{data, size};
      block_task b;
      auto outside = false;  // a task outside the block's range
      while (in.next(b)) {
        if ((outside = b.id < first || b.id > last))
          break;
        if (ended(b.id))
          continue;
        read_task t;
        t.id = b.id;
        t.fn = b.fn;
        t.args = b.args;
        t.args_size = b.args_size;
        t.priority = b.priority;
        t.state = b.state;
        t.seq = b.seq;
        t.node_failures = b.node_failures;
        t.node = b.node;
        t.epoch = b.state == 1 ? int64_t{b.epoch} : -1;
        if (auto it = moves_.find(b.id); it != moves_.end()) {
          auto& m = it->second;
          t.state = m.state;
          if (m.has_seq)
            t.seq = m.seq;
          if (m.has_node_failures)
            t.node_failures = m.node_failures;
          t.node = m.node;
          t.epoch = m.epoch;
        }
        if (auto err = add(t, true))
          return err;
      }
      if (in.damaged() || outside)
        return corrupt(db_, "the block of tasks from " + std::to_string(first)
                              + " is damaged");
    }
    return rc == SQLITE_DONE ? caf::none : db_.fail(rc, "cannot read it");
  }

  caf::error add(const read_task& r, bool in_block) {
    restored_task t;
    t.id = static_cast<task_id>(r.id);
    if (r.fn < 0 || r.fn >= static_cast<int64_t>(names_.functions.size()))
      return corrupt(db_, "task " + std::to_string(t.id) + " has no function name");
    t.fn = static_cast<uint32_t>(r.fn);
    if (auto err = load_blob(sys_, r.args, r.args_size, t.args))
      return make_error(errc::journal_error, "journal " + db_.path() + ": task "
                                               + std::to_string(t.id) + "'s arguments: "
                                               + describe(err));
    t.priority = static_cast<int32_t>(r.priority);
    t.running = r.state == 1;  // waits for its node's claim (scheduler_core::adopt)
    if (t.running)
      running_.push_back(tasks_.size());
    seqs_.push_back(r.seq);
    t.node_failures = static_cast<uint32_t>(r.node_failures);
    // Dispatched (and not requeued since): to this node, under this lease.
    if (r.node >= 0) {
      if (r.node >= static_cast<int64_t>(names_.nodes.size()))
        return corrupt(db_, "task " + std::to_string(t.id) + " ran on node "
                              + std::to_string(r.node) + ", which has no name");
      t.node = names_.nodes[static_cast<size_t>(r.node)];
    } else if (r.node < -1) {
      return corrupt(db_, "task " + std::to_string(t.id) + " ran on node "
                            + std::to_string(r.node) + ", which has no name");
    }
    if (r.epoch >= 0)
      t.epoch = static_cast<uint32_t>(r.epoch);
    tasks_.push_back(std::move(t));
    where_.push_back(found_at{in_block, r.node, r.epoch});
    return caf::none;
  }

  sqlite_db& db_;
  caf::actor_system& sys_;
  const journal_names& names_;
  std::vector<restored_task>& tasks_;
  std::vector<int64_t>& seqs_;
  std::vector<size_t>& running_;
  std::vector<found_at>& where_;
  std::vector<int64_t> ends_;                      // ids, in order
  std::unordered_map<int64_t, packed_move> moves_;  // by id
};

// The running tasks go back to the front, in id order: the newest first, so
// that the oldest ends up in front, as scheduler_core::remove_node does.
// Their node and epoch stay: they wait for that node's claim, also when this
// scheduler dies before it comes.
caf::error requeue_running(sqlite_db& db, journal_meta& meta,
                           const std::vector<restored_task>& tasks,
                           std::vector<int64_t>& seqs, std::vector<size_t>& running,
                           const std::vector<found_at>& where) {
  sqlite_stmt row;
  if (auto err = row.prepare(db, "UPDATE tasks SET state=0, seq=?2 WHERE id=?1"))
    return err;
  std::sort(running.begin(), running.end(),
            [&](size_t a, size_t b) { return tasks[a].id > tasks[b].id; });
  std::vector<packed_move> moves;  // of block tasks, one pack
  for (auto i : running) {
    seqs[i] = meta.front_seq--;
    auto& w = where[i];
    ++meta.count.ticks;
    ++meta.count.requeued;
    if (w.in_block) {
      // Pending, in front, still waiting for its node's claim.
      packed_move m;
      m.id = static_cast<int64_t>(tasks[i].id);
      m.has_seq = m.has_node_failures = true;
      m.seq = seqs[i];
      m.node_failures = tasks[i].node_failures;
      m.node = w.node;
      m.epoch = w.epoch;
      moves.push_back(m);
      continue;
    }
    if (auto err = row.bind(1, static_cast<int64_t>(tasks[i].id))
                     .bind(2, seqs[i])
                     .run(db, "cannot write it"))
      return err;
  }
  if (moves.empty())
    return caf::none;
  std::reverse(moves.begin(), moves.end());  // ascending ids
  move_pack_writer pack;
  for (auto& m : moves)
    pack.add(m);
  sqlite_stmt insert;
  if (auto err = insert.prepare(db, "INSERT INTO move_packs(seq, moves) "
                                    "VALUES((SELECT COALESCE(MAX(seq), 0) + 1 "
                                    "FROM move_packs), ?1)"))
    return err;
  return insert.bind_blob(1, pack.bytes().data(), pack.bytes().size())
    .run(db, "cannot write it");
}

// Pending order: priority (highest first), then seq.
void fill_snapshot(std::vector<restored_task>& tasks, const std::vector<int64_t>& seqs,
                   journal_snapshot& snapshot) {
  std::vector<uint32_t> order(tasks.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (tasks[a].priority != tasks[b].priority)
      return tasks[a].priority > tasks[b].priority;
    return seqs[a] < seqs[b];
  });
  snapshot.pending.clear();
  snapshot.pending.reserve(tasks.size());
  for (auto i : order) {
    tasks[i].front = seqs[i] < 0;
    snapshot.pending.push_back(std::move(tasks[i]));
  }
}

caf::error read_and_requeue(sqlite_db& db, caf::actor_system& sys, bool fresh,
                            journal_meta& meta, journal_names& names, journal_notes& notes,
                            journal_snapshot& snapshot) {
  if (auto err = read_meta(db, meta))
    return err;
  if (auto err = read_names(db, "SELECT fn, name FROM functions ORDER BY fn", names.functions))
    return err;
  if (auto err = read_names(db, "SELECT node, name FROM nodes ORDER BY node", names.nodes))
    return err;
  if (auto err = read_notes(db, notes))
    return err;
  std::vector<restored_task> tasks;
  std::vector<int64_t> seqs;
  std::vector<size_t> running;
  std::vector<found_at> where;
  if (auto err = task_reader{db, sys, names, tasks, seqs, running, where}.read())
    return err;
  if (auto err = requeue_running(db, meta, tasks, seqs, running, where))
    return err;
  if (!fresh)
    ++meta.generation;
  sqlite_stmt stmt;
  if (auto err = stmt.prepare(db, write_meta_sql))
    return err;
  bind_meta(stmt, meta);
  if (auto err = stmt.run(db, "cannot write it"))
    return err;
  fill_snapshot(tasks, seqs, snapshot);
  snapshot.generation = meta.generation;
  snapshot.next_id = meta.next_id;
  snapshot.count = meta.count;
  snapshot.functions = names.functions;
  return caf::none;
}

} // namespace

caf::error resume_journal(sqlite_db& db, caf::actor_system& sys, bool fresh,
                          journal_meta& meta, journal_names& names, journal_notes& notes,
                          journal_snapshot& snapshot) {
  return db.transaction("BEGIN", "cannot read it", [&] {
    return read_and_requeue(db, sys, fresh, meta, names, notes, snapshot);
  });
}

} // namespace gasched::detail
