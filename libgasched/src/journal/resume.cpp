#include "journal/resume.hpp"

#include <algorithm>
#include <numeric>

#include <sqlite3.h>

#include "gasched/errc.hpp"
#include "journal/blob.hpp"

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

// Every unfinished task (the finished ones are kept results); `seqs` gets each one's place, `running` which ran.
caf::error read_tasks(sqlite_db& db, caf::actor_system& sys, const journal_names& names,
                      std::vector<restored_task>& tasks, std::vector<int64_t>& seqs,
                      std::vector<size_t>& running) {
  // Rows of state < 2 with an end in `ends` finished: both in id order, so
  // that one pass over each skips them.
  auto functions = names.functions.size();
  sqlite_stmt stmt, ends;
  if (auto err = stmt.prepare(db, "SELECT id, fn, args, priority, state, seq, node_failures, "
                                  "node, epoch FROM tasks WHERE state < 2 ORDER BY id"))
    return err;
  if (auto err = ends.prepare(db, "SELECT id FROM ends ORDER BY id"))
    return err;
  int ends_rc = ends.step();
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    auto id = stmt.int64(0);
    while (ends_rc == SQLITE_ROW && ends.int64(0) < id)
      ends_rc = ends.step();
    if (ends_rc != SQLITE_ROW && ends_rc != SQLITE_DONE)
      return db.fail(ends_rc, "cannot read it");
    if (ends_rc == SQLITE_ROW && ends.int64(0) == id)
      continue;  // ended
    restored_task t;
    t.id = static_cast<task_id>(id);
    t.fn = static_cast<uint32_t>(stmt.int64(1));
    if (t.fn >= functions)
      return corrupt(db, "task " + std::to_string(t.id) + " has no function name");
    auto [data, size] = stmt.blob(2);
    if (auto err = load_blob(sys, data, size, t.args))
      return make_error(errc::journal_error, "journal " + db.path() + ": task "
                                               + std::to_string(t.id) + "'s arguments: "
                                               + describe(err));
    t.priority = static_cast<int32_t>(stmt.int64(3));
    t.running = stmt.int64(4) == 1;  // waits for its node's claim (scheduler_core::adopt)
    if (t.running)
      running.push_back(tasks.size());
    seqs.push_back(stmt.int64(5));
    t.node_failures = static_cast<uint32_t>(stmt.int64(6));
    // Dispatched (and not requeued since): to this node, under this lease.
    if (!stmt.is_null(7)) {
      auto node = stmt.int64(7);
      if (node < 0 || node >= static_cast<int64_t>(names.nodes.size()))
        return corrupt(db, "task " + std::to_string(t.id) + " ran on node "
                             + std::to_string(node) + ", which has no name");
      t.node = names.nodes[static_cast<size_t>(node)];
    }
    if (!stmt.is_null(8))
      t.epoch = static_cast<uint32_t>(stmt.int64(8));
    tasks.push_back(std::move(t));
  }
  return rc == SQLITE_DONE ? caf::none : db.fail(rc, "cannot read it");
}

// The running tasks go back to the front, in id order: the newest first, so
// that the oldest ends up in front, as scheduler_core::remove_node does.
// Their node and epoch stay: they wait for that node's claim, also when this
// scheduler dies before it comes.
caf::error requeue_running(sqlite_db& db, journal_meta& meta,
                           const std::vector<restored_task>& tasks,
                           std::vector<int64_t>& seqs, std::vector<size_t>& running) {
  sqlite_stmt stmt;
  if (auto err = stmt.prepare(db, "UPDATE tasks SET state=0, seq=?2 WHERE id=?1"))
    return err;
  std::sort(running.begin(), running.end(),
            [&](size_t a, size_t b) { return tasks[a].id > tasks[b].id; });
  for (auto i : running) {
    seqs[i] = meta.front_seq--;
    stmt.bind(1, static_cast<int64_t>(tasks[i].id)).bind(2, seqs[i]);
    if (auto err = stmt.run(db, "cannot write it"))
      return err;
    ++meta.count.ticks;
    ++meta.count.requeued;
  }
  return caf::none;
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
  if (auto err = read_tasks(db, sys, names, tasks, seqs, running))
    return err;
  if (auto err = requeue_running(db, meta, tasks, seqs, running))
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
