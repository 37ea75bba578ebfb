#include "journal/pg_store.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <type_traits>

#include "gasched/errc.hpp"
#include "journal/blob.hpp"

#ifndef GASCHED_VERSION
#  define GASCHED_VERSION "unknown"
#endif

namespace gasched::detail {

const char* gasched_version() {
  return GASCHED_VERSION;
}

namespace {

// A task's end is one new row of gasched_ends (COPY), not an UPDATE of its
// row in gasched_tasks: a database appends rows several times faster than
// it updates them. Only a task that came and ended between two commits is
// one row of gasched_tasks with its result (state 2). gasched_tasks leaves
// room in each page (fillfactor) so that the UPDATE of a task dispatched or
// requeued mostly stays in its page: a HOT update, without a new index entry.
// A running task's row names its node and the epoch of its lease (node,
// epoch: 8 bytes), what a standby that takes over needs to adopt it from
// that node only (scheduler_core::adopt); a requeue clears them.
constexpr const char* schema = R"(
CREATE TABLE gasched_meta(one int PRIMARY KEY CHECK (one = 1), layout int NOT NULL,
  cluster text NOT NULL, version text NOT NULL, generation bigint NOT NULL,
  next_id bigint NOT NULL, front_seq bigint NOT NULL, ticks bigint NOT NULL,
  succeeded bigint NOT NULL, failed bigint NOT NULL, cancelled bigint NOT NULL,
  requeued bigint NOT NULL, quarantined bigint NOT NULL);
CREATE TABLE gasched_fence(one int PRIMARY KEY CHECK (one = 1), generation bigint NOT NULL);
CREATE TABLE gasched_functions(fn int PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE gasched_nodes(node int PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE gasched_tasks(id bigint PRIMARY KEY, fn int NOT NULL, args bytea NOT NULL,
  priority int NOT NULL, state smallint NOT NULL, seq bigint NOT NULL,
  node_failures int NOT NULL, node int, outcome smallint, value bytea, error bytea,
  error_text text, finished_at bigint, epoch int) WITH (fillfactor = 70);
CREATE TABLE gasched_ends(id bigint PRIMARY KEY, node int, outcome smallint NOT NULL,
  value bytea, error bytea, error_text text, finished_at bigint NOT NULL);
CREATE TABLE gasched_notes(key text PRIMARY KEY, value bytea NOT NULL);
INSERT INTO gasched_fence VALUES(1, 0);
CREATE FUNCTION gasched_fence_check(g bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE now_g bigint;
BEGIN
  SELECT generation INTO now_g FROM gasched_fence WHERE one = 1 FOR KEY SHARE;
  IF now_g IS DISTINCT FROM g THEN
    RAISE EXCEPTION 'generation % is fenced: the journal is at generation %', g, now_g
      USING ERRCODE = 'GS001';
  END IF;
END $$;
)";

// The session's dispatched and requeued tasks of one commit, joined into
// gasched_tasks by one UPDATE. A commit of 100,000 changes fits in memory:
// the temporary table (which takes temp_buffers only before its first use)
// and the UPDATE's hash join.
constexpr const char* session_setup =
  "SET temp_buffers = '64MB'; SET work_mem = '64MB'; CREATE TEMP TABLE IF NOT EXISTS "
  "gasched_changes(id bigint, state smallint, seq bigint, node_failures int, node int, "
  "epoch int) ON COMMIT DELETE ROWS";

constexpr const char* apply_changes =
  "UPDATE gasched_tasks t SET state=c.state, seq=COALESCE(c.seq, t.seq), "
  "node_failures=COALESCE(c.node_failures, t.node_failures), node=c.node, epoch=c.epoch "
  "FROM gasched_changes c WHERE t.id = c.id;";

// Resuming: the running tasks back to pending, their node and epoch kept
// (they wait for that node's claim, also if this scheduler dies first).
constexpr const char* requeue_running =
  "UPDATE gasched_tasks t SET state=c.state, seq=c.seq FROM gasched_changes c "
  "WHERE t.id = c.id;";

// An epoch is 32 bits unsigned; the column, int, holds its bit pattern.
int64_t epoch_column(uint32_t epoch) {
  return static_cast<int32_t>(epoch);
}

// Whether task t has ended: as a row of its own (state 2) or in gasched_ends.
#define GASCHED_ENDED "(t.state = 2 OR e.id IS NOT NULL)"
// A result column of task t, wherever its end is.
#define GASCHED_END(col) "CASE WHEN e.id IS NULL THEN t." col " ELSE e." col " END"

std::string quote(const std::string& s) {
  std::string out = "'";
  for (auto c : s) {
    if (c == '\'')
      out += '\'';
    out += c;
  }
  return out + "'";
}

std::string bytea_literal(const char* data, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "'\\x";
  for (size_t i = 0; i < n; ++i) {
    auto b = static_cast<unsigned char>(data[i]);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out + "'::bytea";
}

// COPY's binary format: no text to make or for the server to parse. A row
// is its number of fields, then each field's length and bytes (integers
// big-endian, bytea and text as they are; length -1: NULL).
struct copy_row {
  std::string& out;

  copy_row(std::string& o, int16_t fields) : out(o) {
    be(fields);
  }
  template <class T>
  void be(T x) {
    auto u = static_cast<std::make_unsigned_t<T>>(x);
    for (int shift = 8 * (static_cast<int>(sizeof(T)) - 1); shift >= 0; shift -= 8)
      out += static_cast<char>((u >> shift) & 0xff);
  }
  copy_row& i64(int64_t x) {
    be(int32_t{8});
    be(x);
    return *this;
  }
  copy_row& i32(int64_t x) {
    be(int32_t{4});
    be(static_cast<int32_t>(x));
    return *this;
  }
  copy_row& i16(int64_t x) {
    be(int32_t{2});
    be(static_cast<int16_t>(x));
    return *this;
  }
  copy_row& null() {
    be(int32_t{-1});
    return *this;
  }
  copy_row& bytes(const change_buffer& buf, arena_ref r) {
    if (r.size == 0)
      return null();
    be(static_cast<int32_t>(r.size));
    out.append(buf.bytes(r), r.size);
    return *this;
  }
  // A text value holds no NUL: they are left out, as the text format did.
  copy_row& text(const change_buffer& buf, arena_ref r) {
    if (r.size == 0)
      return null();
    auto p = buf.bytes(r);
    auto at = out.size();
    be(int32_t{0});
    for (size_t i = 0; i < r.size; ++i)
      if (p[i] != '\0')
        out += p[i];
    auto n = static_cast<uint32_t>(out.size() - at - 4);
    for (int k = 0; k < 4; ++k)
      out[at + static_cast<size_t>(k)] = static_cast<char>((n >> (24 - 8 * k)) & 0xff);
    return *this;
  }
};

// The binary format's header (signature, flags, no extension) and trailer.
constexpr char copy_header[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
constexpr size_t copy_header_size = 19;
constexpr char copy_trailer[] = "\377\377";

// Layout 2 to 3: a running task's epoch (its node goes in `node`, which
// held only where a task ended). Its running tasks keep no node: any node
// may claim them under an earlier lease, as before.
constexpr const char* layout_2_to_3 =
  "ALTER TABLE gasched_tasks ADD COLUMN epoch int; UPDATE gasched_meta SET layout = 3";

caf::error refuse(const std::string& where, const std::string& why) {
  return make_error(errc::journal_error, "journal " + where + ": " + why
                                           + "; the database was left as it is");
}

} // namespace

caf::error pg_check_journal(pg_db& db, const std::string& cluster, int64_t* layout_out) {
  pg_rows r;
  if (auto err = db.exec("SELECT to_regclass('gasched_meta') IS NOT NULL", "cannot read it", &r))
    return err;
  if (r.text(0, 0) != "t")
    return caf::none;
  if (auto err = db.exec("SELECT layout, cluster, version FROM gasched_meta", "cannot read it",
                          &r))
    return err;
  if (r.rows() != 1)
    return refuse(db.where(), "gasched_meta has no row: not a gasched journal");
  auto layout = r.int64(0, 0);
  if (layout_out != nullptr)
    *layout_out = layout;
  if (layout < pg_oldest_layout || layout > pg_layout)
    return refuse(db.where(), "a gasched journal of "
                                + std::string{layout < pg_layout ? "an older" : "a newer"}
                                + " layout (" + std::to_string(layout) + ", written by gasched "
                                + r.text(0, 2) + "); this gasched reads layout "
                                + (pg_oldest_layout < pg_layout
                                     ? std::to_string(pg_oldest_layout) + " to "
                                     : std::string{})
                                + std::to_string(pg_layout) + " only");
  if (r.text(0, 1) != cluster)
    return refuse(db.where(), "the journal of cluster '" + r.text(0, 1)
                                + "', not of this scheduler's cluster '" + cluster
                                + "' (scheduler_options::journal_cluster)");
  return caf::none;
}

caf::expected<std::unique_ptr<pg_store>>
pg_store::open(const std::string& url, const std::string& cluster,
               const journal_options& opts) {
  std::unique_ptr<pg_store> s{new pg_store};
  s->sync_ = opts.sync_every_commit;
  if (auto err = s->db_.connect(url, 5, opts.session))
    return err;
  // Until resumed (a standby taking over, possibly cut from the database
  // meanwhile), no query waits for ever; later an active's lease bounds
  // them (pg_leader cuts the connection of one that lost it).
  s->db_.bound_each(resume_bound);
  if (auto err = s->check_schema(cluster))
    return err;
  return s;
}

caf::error pg_store::check_schema(const std::string& cluster) {
  auto setup = std::string{session_setup}
               + (sync_ ? "; SET synchronous_commit = on" : "; SET synchronous_commit = off");
  if (auto err = db_.exec(setup, "cannot set up the session"))
    return err;
  if (auto err = db_.exec("BEGIN; SELECT pg_advisory_xact_lock(1196640846)", "cannot lock it"))
    return err;
  auto done = [&](caf::error err) {
    db_.exec(err ? "ROLLBACK" : "COMMIT", "cannot create it");
    return err;
  };
  pg_rows r;
  if (auto err = db_.exec("SELECT to_regclass('gasched_meta') IS NOT NULL", "cannot read it", &r))
    return done(err);
  if (r.text(0, 0) != "t") {
    if (auto err = db_.exec(schema, "cannot create its tables"))
      return done(err);
    auto meta = "INSERT INTO gasched_meta VALUES(1, " + std::to_string(pg_layout) + ", "
                + quote(cluster) + ", " + quote(gasched_version())
                + ", 0, 1, -1, 0, 0, 0, 0, 0, 0)";
    return done(db_.exec(meta, "cannot create its tables"));
  }
  int64_t layout = pg_layout;
  if (auto err = pg_check_journal(db_, cluster, &layout))
    return done(err);
  if (layout == 2)  // under the schema's lock: one scheduler upgrades it
    return done(db_.exec(layout_2_to_3, "cannot upgrade it from layout 2 to 3"));
  return done(caf::none);
}

caf::error pg_store::fenced_or(caf::error err) {
  if (db_.last_sqlstate() == "GS001")
    return make_error(errc::standby, "journal " + where() + ": this scheduler lost its lease "
                                       "(another took over): " + describe(err));
  return err;
}

// -- resume ------------------------------------------------------------------------

caf::error pg_store::resume(caf::actor_system& sys, journal_meta& meta, journal_names& names,
                            journal_notes& notes, journal_snapshot& snapshot) {
  if (auto err = db_.exec("BEGIN", "cannot read it"))
    return err;
  auto err = resume_in_transaction(sys, meta, names, notes, snapshot);
  if (!err)
    err = db_.exec("COMMIT", "cannot write it");
  if (err) {
    err = fenced_or(std::move(err));
    db_.exec("ROLLBACK", "cannot read it");
  }
  db_.bound_each(std::chrono::milliseconds{0});
  return err;
}

caf::error pg_store::resume_in_transaction(caf::actor_system& sys, journal_meta& meta,
                                           journal_names& names, journal_notes& notes,
                                           journal_snapshot& snapshot) {
  pg_rows r;
  if (auto err = db_.exec("SELECT generation, next_id, front_seq, ticks, succeeded, failed, "
                          "cancelled, requeued, quarantined FROM gasched_meta FOR UPDATE",
                          "cannot read it", &r))
    return err;
  if (r.rows() != 1)
    return refuse(where(), "gasched_meta has no row");
  auto u64 = [&](int col) { return static_cast<uint64_t>(r.int64(0, col)); };
  meta.generation = static_cast<uint32_t>(r.int64(0, 0));
  meta.next_id = u64(1);
  meta.front_seq = r.int64(0, 2);
  meta.count = core_counters{u64(3), u64(4), u64(5), u64(6), u64(7), u64(8), 0};
  if (generation_ == 0) {
    // Alone: fence whoever wrote before.
    if (auto err = db_.exec("SELECT generation FROM gasched_fence WHERE one = 1 FOR UPDATE",
                            "cannot read it", &r))
      return err;
    auto g = std::max<int64_t>(r.int64(0, 0), meta.generation) + 1;
    if (auto err = db_.exec("UPDATE gasched_fence SET generation = " + std::to_string(g),
                            "cannot write it"))
      return err;
    generation_ = static_cast<uint32_t>(g);
  } else if (auto err = db_.exec("SELECT gasched_fence_check(" + std::to_string(generation_)
                                   + ")",
                                 "cannot resume it")) {
    return err;
  }
  meta.generation = generation_;
  for (auto [sql, out] : {std::pair{"SELECT fn, name FROM gasched_functions ORDER BY fn",
                                    &names.functions},
                          std::pair{"SELECT node, name FROM gasched_nodes ORDER BY node",
                                    &names.nodes}}) {
    if (auto err = db_.exec(sql, "cannot read it", &r))
      return err;
    for (int i = 0; i < r.rows(); ++i) {
      if (r.int64(i, 0) != static_cast<int64_t>(out->size()))
        return refuse(where(), std::string{"names out of sequence: "} + sql);
      out->push_back(r.text(i, 1));
    }
  }
  if (auto err = db_.exec("SELECT key, value FROM gasched_notes", "cannot read it", &r))
    return err;
  for (int i = 0; i < r.rows(); ++i) {
    auto v = r.bytes(i, 1);
    notes[r.text(i, 0)].assign(v.begin(), v.end());
  }
  // Every unfinished task, a slice at a time.
  std::vector<restored_task> tasks;
  std::vector<int64_t> seqs;
  std::vector<size_t> running;
  if (auto err = db_.exec("DECLARE gasched_resume NO SCROLL CURSOR FOR SELECT id, fn, args, "
                          "priority, state, seq, node_failures, node, epoch FROM gasched_tasks t "
                          "WHERE state < 2 AND NOT EXISTS (SELECT 1 FROM gasched_ends e "
                          "WHERE e.id = t.id)",
                          "cannot read it"))
    return err;
  for (;;) {
    if (auto err = db_.exec("FETCH 50000 FROM gasched_resume", "cannot read it", &r))
      return err;
    if (r.rows() == 0)
      break;
    for (int i = 0; i < r.rows(); ++i) {
      restored_task t;
      t.id = static_cast<task_id>(r.int64(i, 0));
      t.fn = static_cast<uint32_t>(r.int64(i, 1));
      if (t.fn >= names.functions.size())
        return refuse(where(), "task " + std::to_string(t.id) + " has no function name");
      auto args = r.bytes(i, 2);
      if (auto err = load_blob(sys, args.data(), args.size(), t.args))
        return make_error(errc::journal_error, "journal " + where() + ": task "
                                                 + std::to_string(t.id)
                                                 + "'s arguments: " + describe(err));
      t.priority = static_cast<int32_t>(r.int64(i, 3));
      t.running = r.int64(i, 4) == 1;  // waits for its node's claim (scheduler_core::adopt)
      if (t.running)
        running.push_back(tasks.size());
      seqs.push_back(r.int64(i, 5));
      t.node_failures = static_cast<uint32_t>(r.int64(i, 6));
      // Dispatched (and not requeued since): to this node, under this lease.
      if (!r.null(i, 7)) {
        auto node = r.int64(i, 7);
        if (node < 0 || node >= static_cast<int64_t>(names.nodes.size()))
          return refuse(where(), "task " + std::to_string(t.id) + " ran on node "
                                   + std::to_string(node) + ", which has no name");
        t.node = names.nodes[static_cast<size_t>(node)];
      }
      if (!r.null(i, 8))
        t.epoch = static_cast<uint32_t>(static_cast<int32_t>(r.int64(i, 8)));
      tasks.push_back(std::move(t));
    }
  }
  db_.exec("CLOSE gasched_resume", "cannot read it");
  // The running ones back to the front, newest first (scheduler_core::remove_node's order).
  std::sort(running.begin(), running.end(),
            [&](size_t a, size_t b) { return tasks[a].id > tasks[b].id; });
  std::string rows;
  for (auto i : running) {
    seqs[i] = meta.front_seq--;
    rows += std::to_string(tasks[i].id) + "\t0\t" + std::to_string(seqs[i]) + "\n";
    ++meta.count.ticks;
    ++meta.count.requeued;
  }
  if (!rows.empty()) {
    if (auto err = db_.copy_in("gasched_changes(id, state, seq)", rows, "cannot write it"))
      return err;
    if (auto err = db_.exec(requeue_running, "cannot write it"))
      return err;
  }
  auto& c = meta.count;
  auto s = [](uint64_t x) { return std::to_string(x); };
  if (auto err = db_.exec("UPDATE gasched_meta SET version=" + quote(gasched_version())
                            + ", generation=" + s(meta.generation) + ", next_id="
                            + s(meta.next_id) + ", front_seq=" + std::to_string(meta.front_seq)
                            + ", ticks=" + s(c.ticks) + ", requeued=" + s(c.requeued),
                          "cannot write it"))
    return err;
  // Pending order: priority (highest first), then seq.
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
  snapshot.generation = meta.generation;
  snapshot.next_id = meta.next_id;
  snapshot.count = meta.count;
  snapshot.functions = names.functions;
  return caf::none;
}

// -- write -------------------------------------------------------------------------

caf::error pg_store::write(const commit_batch& batch, size_t& pruned) {
  pruned = 0;
  if (!db_.ok())
    return db_.fail("cannot write it (the connection is lost)");
  auto err = write_in_transaction(batch, pruned);
  if (err) {
    err = fenced_or(std::move(err));
    db_.exec("ROLLBACK", "cannot write it");
  }
  return err;
}

template <class Select, class Row>
caf::error pg_store::copy_each(const change_buffer& buf, int16_t fields, Select select,
                               Row write) {
  constexpr size_t part = 256 * 1024;
  std::string rows{copy_header, copy_header_size};
  for (auto& c : buf.changes()) {
    if (!select(c))
      continue;
    copy_row row{rows, fields};
    write(c, row);
    if (rows.size() >= part) {
      if (auto err = db_.copy_put(rows, "cannot write it"))
        return err;
      rows.clear();
    }
  }
  rows.append(copy_trailer, 2);
  return db_.copy_put(rows, "cannot write it");
}

caf::error pg_store::write_in_transaction(const commit_batch& batch, size_t& pruned) {
  auto& buf = batch.changes;
  // New tasks, ends of tasks written before, then dispatched and requeued
  // ones: up to three binary COPYs, and the whole commit one query, so that
  // the server reads each COPY's rows as it comes to it, without a round
  // trip of its own.
  auto is_new = [](const task_change& c) { return c.is_new; };
  auto is_end = [](const task_change& c) { return !c.is_new && c.state == task_state::finished; };
  auto is_other = [](const task_change& c) {
    return !c.is_new && c.state != task_state::finished;
  };
  size_t news = 0, ends = 0, others = 0;
  for (auto& c : buf.changes())
    ++(is_new(c) ? news : is_end(c) ? ends : others);
  // A running task's node (when it has a name: scheduler_core::adopt).
  auto running_node = [](const task_change& c, copy_row& row) {
    c.state == task_state::running && c.node >= 0 ? row.i32(c.node) : row.null();
  };
  auto fresh_row = [&](const task_change& c, copy_row& row) {
    row.i64(static_cast<int64_t>(c.id)).i32(c.fn).bytes(buf, c.args).i32(c.priority);
    row.i16(static_cast<int64_t>(c.state));
    if (c.state == task_state::finished) {
      row.i64(static_cast<int64_t>(c.id)).i32(0);
      c.node >= 0 ? row.i32(c.node) : row.null();
      row.i16(static_cast<int64_t>(c.how)).bytes(buf, c.value).bytes(buf, c.error);
      row.text(buf, c.error_text).i64(batch.finished_at).null();
    } else {
      row.i64(c.seq).i32(c.node_failures);
      running_node(c, row);
      row.null().null().null().null().null();
      c.state == task_state::running ? row.i32(epoch_column(c.epoch)) : row.null();
    }
  };
  auto end_row = [&](const task_change& c, copy_row& row) {
    row.i64(static_cast<int64_t>(c.id));
    c.node >= 0 ? row.i32(c.node) : row.null();
    row.i16(static_cast<int64_t>(c.how)).bytes(buf, c.value).bytes(buf, c.error);
    row.text(buf, c.error_text).i64(batch.finished_at);
  };
  auto other_row = [&](const task_change& c, copy_row& row) {
    row.i64(static_cast<int64_t>(c.id)).i16(static_cast<int64_t>(c.state));
    c.requeued ? row.i64(c.seq).i32(c.node_failures) : row.null().null();
    running_node(c, row);
    c.state == task_state::running ? row.i32(epoch_column(c.epoch)) : row.null();
  };
  // The fence first: a scheduler that lost its lease sends no rows.
  std::string sql = "BEGIN; SELECT gasched_fence_check(" + std::to_string(generation_) + ");";
  std::vector<std::function<caf::error()>> copies;
  if (news > 0) {
    sql += "COPY gasched_tasks(id, fn, args, priority, state, seq, node_failures, node, "
           "outcome, value, error, error_text, finished_at, epoch) FROM STDIN (FORMAT binary);";
    copies.emplace_back([&] { return copy_each(buf, 14, is_new, fresh_row); });
  }
  if (ends > 0) {
    sql += "COPY gasched_ends(id, node, outcome, value, error, error_text, finished_at) "
           "FROM STDIN (FORMAT binary);";
    copies.emplace_back([&] { return copy_each(buf, 7, is_end, end_row); });
  }
  if (others > 0) {
    sql += "COPY gasched_changes(id, state, seq, node_failures, node, epoch) FROM STDIN "
           "(FORMAT binary);";
    sql += apply_changes;
    copies.emplace_back([&] { return copy_each(buf, 6, is_other, other_row); });
  }
  for (size_t i = 0; i < batch.functions.size(); ++i)
    sql += "INSERT INTO gasched_functions VALUES(" + std::to_string(batch.first_function + i)
           + ", " + quote(batch.functions[i]) + ");";
  for (size_t i = 0; i < batch.nodes.size(); ++i)
    sql += "INSERT INTO gasched_nodes VALUES(" + std::to_string(batch.first_node + i) + ", "
           + quote(batch.nodes[i]) + ");";
  for (auto& [key, value] : batch.notes)
    sql += "INSERT INTO gasched_notes VALUES(" + quote(key) + ", "
           + bytea_literal(value.data(), value.size())
           + ") ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;";
  auto& m = batch.meta;
  auto& c = m.count;
  auto s = [](uint64_t x) { return std::to_string(x); };
  sql += "UPDATE gasched_meta SET generation=" + s(m.generation) + ", next_id=" + s(m.next_id)
         + ", front_seq=" + std::to_string(m.front_seq) + ", ticks=" + s(c.ticks)
         + ", succeeded=" + s(c.succeeded) + ", failed=" + s(c.failed) + ", cancelled="
         + s(c.cancelled) + ", requeued=" + s(c.requeued) + ", quarantined="
         + s(c.quarantined) + ";";
  if (batch.prune_before != 0) {
    // In id order (no index on finished_at): the oldest results come first.
    auto before = std::to_string(batch.prune_before);
    sql += "WITH old AS (SELECT id FROM (SELECT id FROM gasched_tasks WHERE state = 2 AND "
           "finished_at < " + before + " UNION ALL SELECT id FROM gasched_ends WHERE "
           "finished_at < " + before + ") o ORDER BY id LIMIT "
           + std::to_string(prune_limit) + "), e AS (DELETE FROM gasched_ends WHERE id IN "
           "(SELECT id FROM old)), d AS (DELETE FROM gasched_tasks WHERE id IN (SELECT id "
           "FROM old) RETURNING 1) SELECT count(*) FROM d;";
  }
  sql += "COMMIT";
  pg_rows r;
  auto feed = [&](size_t i) { return copies[i](); };
  if (auto err = db_.exec_with_copies(sql, copies.size(), feed, "cannot write it", &r))
    return err;
  if (batch.prune_before != 0)
    pruned = static_cast<size_t>(r.int64(0, 0));
  return caf::none;
}

// -- read --------------------------------------------------------------------------

caf::error pg_store::read(task_id id, bool finished_only, kept_task& out) {
  auto key = std::to_string(id);
  pg_rows r;
  auto sql = finished_only
               ? "SELECT t.fn, t.args, t.priority, " GASCHED_END("node") ", "
                 GASCHED_END("outcome") ", " GASCHED_END("value") ", " GASCHED_END("error")
                 ", " GASCHED_END("finished_at") " FROM gasched_tasks t LEFT JOIN "
                 "gasched_ends e ON e.id = t.id WHERE t.id = $1 AND " GASCHED_ENDED
               : "SELECT fn, args, priority FROM gasched_tasks WHERE id = $1";
  if (auto err = db_.exec(sql, {key.c_str()}, "cannot read a result", &r))
    return err;
  if (r.rows() == 0)
    return make_error(errc::unknown_task,
                      finished_only ? "no result of task " + key
                                        + " is kept: unfinished, never accepted, or pruned"
                                    : "task " + key + " is not in the journal");
  out.fn = static_cast<uint32_t>(r.int64(0, 0));
  out.args = r.bytes(0, 1);
  out.priority = static_cast<int32_t>(r.int64(0, 2));
  if (finished_only) {
    out.node = r.null(0, 3) ? -1 : r.int64(0, 3);
    out.how = static_cast<outcome_kind>(r.int64(0, 4));
    out.value = r.bytes(0, 5);
    out.error = r.bytes(0, 6);
    out.finished_at = r.int64(0, 7);
  }
  return caf::none;
}

} // namespace gasched::detail
