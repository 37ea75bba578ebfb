#include "journal/pg_store.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "gasched/errc.hpp"
#include "journal/blob.hpp"
#include "journal/pg_blocks.hpp"

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
// Layout 4: what a commit accepts is one row of gasched_news (pg_blocks.hpp),
// the ends it writes one row of gasched_done per block they belong to, and a
// task's state when it is not pending as accepted (dispatched: node and
// epoch; requeued: seq and node_failures) a row of gasched_states, NULL
// columns as accepted. `open` counts a block's tasks that have not ended;
// a block goes, with its ends and states, once none is open and its last
// end is older than keep_results. The bytes are stored as they are
// (STORAGE EXTERNAL): compressing blocks costs more than it saves here.
#define GASCHED_BLOCKS \
  "CREATE TABLE gasched_news(first_id bigint PRIMARY KEY, last_id bigint NOT NULL, " \
  "  n int NOT NULL, open int NOT NULL, last_end bigint NOT NULL, tasks bytea NOT NULL); " \
  "ALTER TABLE gasched_news ALTER COLUMN tasks SET STORAGE EXTERNAL; " \
  "CREATE TABLE gasched_done(news bigint NOT NULL, n int NOT NULL, finished_at bigint " \
  "  NOT NULL, ids bytea NOT NULL, ends bytea NOT NULL); " \
  "ALTER TABLE gasched_done ALTER COLUMN ids SET STORAGE EXTERNAL, " \
  "  ALTER COLUMN ends SET STORAGE EXTERNAL; " \
  "CREATE INDEX gasched_done_news ON gasched_done(news); " \
  "CREATE TABLE gasched_states(id bigint PRIMARY KEY, state smallint NOT NULL, " \
  "  seq bigint, node_failures int, node int, epoch int); "

// Up to layout 3 a task was a row of gasched_tasks and its end one of
// gasched_ends: a journal upgraded from it keeps them, read as before (its
// tasks' later states and ends go where layout 4 writes them); a new one
// has them empty.
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
)" GASCHED_BLOCKS R"(
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

// Tasks' states of one commit (or of a resume: the running ones back to
// pending, their node and epoch kept, for they wait for that node's claim)
// joined into gasched_states by one INSERT.
constexpr const char* apply_states =
  "INSERT INTO gasched_states AS s SELECT id, state, seq, node_failures, node, epoch FROM "
  "gasched_changes ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, seq = "
  "COALESCE(EXCLUDED.seq, s.seq), node_failures = COALESCE(EXCLUDED.node_failures, "
  "s.node_failures), node = EXCLUDED.node, epoch = EXCLUDED.epoch;";

// Deletes results that ended before `before` (ms), at most about prune_limit
// of them, and says how many: whole blocks, once none of their tasks is open
// and the last ended before; of layout 3's rows, the oldest first (in id
// order: no index on finished_at). The blocks first in id order too.
std::string prune_sql(int64_t before) {
  auto b = std::to_string(before);
  auto limit = std::to_string(journal_store::prune_limit);
  return "WITH old AS (SELECT first_id, last_id FROM (SELECT first_id, last_id, n, sum(n) "
         "OVER (ORDER BY first_id) AS upto FROM gasched_news WHERE open = 0 AND last_end < "
         + b + ") x WHERE upto - n < " + limit + "), "
         "od AS (DELETE FROM gasched_done WHERE news IN (SELECT first_id FROM old)), "
         "os AS (DELETE FROM gasched_states s USING old WHERE s.id BETWEEN old.first_id AND "
         "old.last_id), "
         "onews AS (DELETE FROM gasched_news WHERE first_id IN (SELECT first_id FROM old) "
         "RETURNING n), "
         "rows AS (SELECT id FROM (SELECT id FROM gasched_tasks WHERE state = 2 AND "
         "finished_at < " + b + " UNION ALL SELECT id FROM gasched_ends WHERE finished_at < "
         + b + ") o ORDER BY id LIMIT " + limit + "), "
         "re AS (DELETE FROM gasched_ends WHERE id IN (SELECT id FROM rows)), "
         "rs AS (DELETE FROM gasched_states WHERE id IN (SELECT id FROM rows)), "
         "rt AS (DELETE FROM gasched_tasks WHERE id IN (SELECT id FROM rows) RETURNING 1) "
         "SELECT (SELECT COALESCE(sum(n), 0) FROM onews) + (SELECT count(*) FROM rt);";
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

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

// Layout 3 to 4: the blocks' tables, empty; the rows stay where they are.
constexpr const char* layout_3_to_4 = GASCHED_BLOCKS "UPDATE gasched_meta SET layout = 4";

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
  // Under the schema's lock: one scheduler upgrades it.
  if (layout == 2)
    if (auto err = db_.exec(layout_2_to_3, "cannot upgrade it from layout 2 to 3"))
      return done(err);
  if (layout <= 3)
    if (auto err = db_.exec(layout_3_to_4, "cannot upgrade it from layout 3 to 4"))
      return done(err);
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
  // Layout 3's rows first (their later states in gasched_states), then the blocks.
  if (auto err = db_.exec("DECLARE gasched_resume NO SCROLL CURSOR FOR SELECT t.id, t.fn, "
                          "t.args, t.priority, COALESCE(s.state, t.state), COALESCE(s.seq, "
                          "t.seq), COALESCE(s.node_failures, t.node_failures), CASE WHEN s.id "
                          "IS NULL THEN t.node ELSE s.node END, CASE WHEN s.id IS NULL THEN "
                          "t.epoch ELSE s.epoch END FROM gasched_tasks t LEFT JOIN "
                          "gasched_states s ON s.id = t.id WHERE t.state < 2 AND NOT EXISTS "
                          "(SELECT 1 FROM gasched_ends e WHERE e.id = t.id)",
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
  auto first_block = tasks.size();
  if (auto err = resume_blocks(sys, names, tasks, seqs))
    return err;
  for (auto i = first_block; i < tasks.size(); ++i)
    if (tasks[i].running)
      running.push_back(i);
  // The running ones back to the front, newest first (scheduler_core::remove_node's
  // order), their node and epoch kept.
  std::sort(running.begin(), running.end(),
            [&](size_t a, size_t b) { return tasks[a].id > tasks[b].id; });
  std::string rows;
  for (auto i : running) {
    seqs[i] = meta.front_seq--;
    auto& t = tasks[i];
    auto node = std::find(names.nodes.begin(), names.nodes.end(), t.node);
    rows += std::to_string(t.id) + "\t0\t" + std::to_string(seqs[i]) + "\t"
            + std::to_string(t.node_failures) + "\t"
            + (t.node.empty() || node == names.nodes.end()
                 ? std::string{"\\N"}
                 : std::to_string(node - names.nodes.begin()))
            + "\t" + std::to_string(epoch_column(t.epoch)) + "\n";
    ++meta.count.ticks;
    ++meta.count.requeued;
  }
  if (!rows.empty()) {
    if (auto err = db_.copy_in("gasched_changes(id, state, seq, node_failures, node, epoch)",
                               rows, "cannot write it"))
      return err;
    if (auto err = db_.exec(apply_states, "cannot write it"))
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

// The unfinished tasks of the blocks with open ones: their ends and states
// first, then the blocks a few at a time.
caf::error pg_store::resume_blocks(caf::actor_system& sys, const journal_names& names,
                                   std::vector<restored_task>& tasks,
                                   std::vector<int64_t>& seqs) {
  open_.clear();
  pg_rows r;
  std::unordered_set<task_id> ended;
  if (auto err = db_.exec("SELECT d.ids FROM gasched_done d JOIN gasched_news n ON "
                          "n.first_id = d.news WHERE n.open > 0",
                          "cannot read it", &r))
    return err;
  for (int i = 0; i < r.rows(); ++i) {
    auto ids = r.bytes(i, 0);
    for (size_t k = 0; k + 8 <= ids.size(); k += 8)
      ended.insert(get_u64(ids.data() + k));
  }
  struct state_row {
    bool running = false;
    std::optional<int64_t> seq, node_failures, node, epoch;
  };
  std::unordered_map<task_id, state_row> states;
  if (auto err = db_.exec("SELECT s.id, s.state, s.seq, s.node_failures, s.node, s.epoch FROM "
                          "gasched_states s JOIN gasched_news n ON s.id BETWEEN n.first_id "
                          "AND n.last_id WHERE n.open > 0",
                          "cannot read it", &r))
    return err;
  auto opt = [&](int row, int col) {
    return r.null(row, col) ? std::optional<int64_t>{} : r.int64(row, col);
  };
  for (int i = 0; i < r.rows(); ++i)
    states[static_cast<task_id>(r.int64(i, 0))] = state_row{r.int64(i, 1) == 1, opt(i, 2),
                                                            opt(i, 3), opt(i, 4), opt(i, 5)};
  std::string recount;
  if (auto err = db_.exec("DECLARE gasched_blocks NO SCROLL CURSOR FOR SELECT first_id, "
                          "last_id, open, tasks FROM gasched_news WHERE open > 0 "
                          "ORDER BY first_id",
                          "cannot read it"))
    return err;
  for (;;) {
    if (auto err = db_.exec("FETCH 8 FROM gasched_blocks", "cannot read it", &r))
      return err;
    if (r.rows() == 0)
      break;
    for (int i = 0; i < r.rows(); ++i) {
      auto first = static_cast<task_id>(r.int64(i, 0));
      auto bytes = r.bytes(i, 3);
      int64_t open = 0;
      news_entry e;
      for (size_t at = 0; at < bytes.size();) {
        if (!next_news(bytes.data(), bytes.size(), at, e))
          return refuse(where(), "the block of tasks from " + std::to_string(first)
                                   + " is cut short");
        if (ended.count(e.id) > 0)
          continue;
        ++open;
        restored_task t;
        t.id = e.id;
        t.fn = e.fn;
        if (t.fn >= names.functions.size())
          return refuse(where(), "task " + std::to_string(t.id) + " has no function name");
        if (auto err = load_blob(sys, e.args.data, e.args.size, t.args))
          return make_error(errc::journal_error, "journal " + where() + ": task "
                                                   + std::to_string(t.id)
                                                   + "'s arguments: " + describe(err));
        t.priority = e.priority;
        int64_t seq = static_cast<int64_t>(t.id);
        if (auto s = states.find(t.id); s != states.end()) {
          auto& st = s->second;
          t.running = st.running;  // waits for its node's claim (scheduler_core::adopt)
          seq = st.seq.value_or(seq);
          t.node_failures = static_cast<uint32_t>(st.node_failures.value_or(0));
          if (st.node) {
            if (*st.node < 0 || *st.node >= static_cast<int64_t>(names.nodes.size()))
              return refuse(where(), "task " + std::to_string(t.id) + " ran on node "
                                       + std::to_string(*st.node) + ", which has no name");
            t.node = names.nodes[static_cast<size_t>(*st.node)];
          }
          if (st.epoch)
            t.epoch = static_cast<uint32_t>(static_cast<int32_t>(*st.epoch));
        }
        seqs.push_back(seq);
        tasks.push_back(std::move(t));
      }
      // Its ends are what counts; a count that says otherwise is set right.
      if (open != r.int64(i, 2))
        recount += "UPDATE gasched_news SET open = " + std::to_string(open)
                   + ", last_end = GREATEST(last_end, " + std::to_string(now_ms())
                   + ") WHERE first_id = " + std::to_string(first) + ";";
      if (open > 0)
        open_[first] = open_block{static_cast<task_id>(r.int64(i, 1)), open};
    }
  }
  if (auto err = db_.exec("CLOSE gasched_blocks", "cannot read it"))
    return err;
  return recount.empty() ? caf::none : db_.exec(recount, "cannot write it");
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

task_id pg_store::block_of(task_id id) const {
  auto it = open_.upper_bound(id);
  if (it == open_.begin())
    return 0;
  --it;
  return id <= it->second.last ? it->first : 0;
}

caf::error pg_store::write_in_transaction(const commit_batch& batch, size_t& pruned) {
  auto& buf = batch.changes;
  // The new tasks: one block (ids only grow: blocks never overlap).
  task_id first_new = 0, last_new = 0;
  int64_t news = 0, news_open = 0;
  for (auto& c : buf.changes())
    if (c.is_new) {
      first_new = news++ == 0 ? c.id : std::min(first_new, c.id);
      last_new = std::max(last_new, c.id);
      news_open += c.state == task_state::finished ? 0 : 1;
    }
  // The ends, by the block of their task; those of layout 3's rows as rows.
  struct block_ends {
    std::string ids, ends;
    int64_t n = 0;
  };
  std::map<task_id, block_ends> done;
  size_t old_ends = 0, states = 0;
  for (auto& c : buf.changes()) {
    if (c.state != task_state::finished) {
      // Its state, unless it is pending as accepted.
      if (!c.is_new || c.state != task_state::pending || c.requeued)
        ++states;
      continue;
    }
    auto block = c.is_new ? first_new : block_of(c.id);
    if (block == 0) {
      ++old_ends;
      continue;
    }
    auto& d = done[block];
    put_u64(d.ids, c.id);
    done_entry e;
    e.id = c.id;
    e.node = static_cast<int32_t>(c.node);
    e.outcome = static_cast<uint8_t>(c.how);
    e.value = {buf.bytes(c.value), c.value.size};
    e.error = {buf.bytes(c.error), c.error.size};
    e.error_text = {buf.bytes(c.error_text), c.error_text.size};
    put_done(d.ends, e);
    ++d.n;
  }
  auto is_old_end = [this](const task_change& c) {
    return !c.is_new && c.state == task_state::finished && block_of(c.id) == 0;
  };
  auto is_state = [](const task_change& c) {
    return c.state != task_state::finished
           && (!c.is_new || c.state != task_state::pending || c.requeued);
  };
  auto end_row = [&](const task_change& c, copy_row& row) {
    row.i64(static_cast<int64_t>(c.id));
    c.node >= 0 ? row.i32(c.node) : row.null();
    row.i16(static_cast<int64_t>(c.how)).bytes(buf, c.value).bytes(buf, c.error);
    row.text(buf, c.error_text).i64(batch.finished_at);
  };
  // A new task's state in full; a known one's seq and node_failures only
  // when requeued (NULL: as they were).
  auto state_row = [&](const task_change& c, copy_row& row) {
    row.i64(static_cast<int64_t>(c.id)).i16(static_cast<int64_t>(c.state));
    c.requeued || c.is_new ? row.i64(c.seq).i32(c.node_failures) : row.null().null();
    c.state == task_state::running && c.node >= 0 ? row.i32(c.node) : row.null();
    c.state == task_state::running ? row.i32(epoch_column(c.epoch)) : row.null();
  };
  auto news_rows = [&] {
    std::string rows{copy_header, copy_header_size};
    copy_row row{rows, 6};
    row.i64(static_cast<int64_t>(first_new)).i64(static_cast<int64_t>(last_new));
    row.i32(news).i32(news_open).i64(news_open < news ? batch.finished_at : 0);
    auto at = rows.size();
    row.be(int32_t{0});
    for (auto& c : buf.changes())
      if (c.is_new)
        put_news(rows, news_entry{c.id, c.fn, c.priority, {buf.bytes(c.args), c.args.size}});
    auto n = static_cast<uint32_t>(rows.size() - at - 4);
    for (int k = 0; k < 4; ++k)
      rows[at + static_cast<size_t>(k)] = static_cast<char>((n >> (24 - 8 * k)) & 0xff);
    rows.append(copy_trailer, 2);
    return db_.copy_put(rows, "cannot write it");
  };
  auto done_rows = [&] {
    std::string rows{copy_header, copy_header_size};
    for (auto& [block, d] : done) {
      copy_row row{rows, 5};
      row.i64(static_cast<int64_t>(block)).i32(d.n).i64(batch.finished_at);
      row.be(static_cast<int32_t>(d.ids.size()));
      rows += d.ids;
      row.be(static_cast<int32_t>(d.ends.size()));
      rows += d.ends;
    }
    rows.append(copy_trailer, 2);
    return db_.copy_put(rows, "cannot write it");
  };
  // The fence first: a scheduler that lost its lease sends no rows.
  std::string sql = "BEGIN; SELECT gasched_fence_check(" + std::to_string(generation_) + ");";
  std::vector<std::function<caf::error()>> copies;
  if (news > 0) {
    sql += "COPY gasched_news(first_id, last_id, n, open, last_end, tasks) FROM STDIN "
           "(FORMAT binary);";
    copies.emplace_back(news_rows);
  }
  if (!done.empty()) {
    sql += "COPY gasched_done(news, n, finished_at, ids, ends) FROM STDIN (FORMAT binary);";
    copies.emplace_back(done_rows);
  }
  // What ended of the blocks of earlier commits.
  std::string closed;
  for (auto& [block, d] : done)
    if (block != first_new || news == 0)
      closed += (closed.empty() ? "" : ",") + ("(" + std::to_string(block) + ","
                                               + std::to_string(d.n) + ")");
  if (!closed.empty())
    sql += "UPDATE gasched_news SET open = open - v.n, last_end = "
           + std::to_string(batch.finished_at) + " FROM (VALUES " + closed
           + ") v(f, n) WHERE first_id = v.f;";
  if (old_ends > 0) {
    sql += "COPY gasched_ends(id, node, outcome, value, error, error_text, finished_at) "
           "FROM STDIN (FORMAT binary);";
    copies.emplace_back([&] { return copy_each(buf, 7, is_old_end, end_row); });
  }
  if (states > 0) {
    sql += "COPY gasched_changes(id, state, seq, node_failures, node, epoch) FROM STDIN "
           "(FORMAT binary);";
    sql += apply_states;
    copies.emplace_back([&] { return copy_each(buf, 6, is_state, state_row); });
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
  if (batch.prune_before != 0)
    sql += prune_sql(batch.prune_before);
  sql += "COMMIT";
  pg_rows r;
  auto feed = [&](size_t i) { return copies[i](); };
  if (auto err = db_.exec_with_copies(sql, copies.size(), feed, "cannot write it", &r))
    return err;
  if (batch.prune_before != 0)
    pruned = static_cast<size_t>(r.int64(0, 0));
  // Written: the open blocks as they are now.
  for (auto& [block, d] : done)
    if (block != first_new || news == 0) {
      auto it = open_.find(block);
      if (it != open_.end() && (it->second.open -= d.n) <= 0)
        open_.erase(it);
    }
  if (news_open > 0)
    open_[first_new] = open_block{last_new, news_open};
  return caf::none;
}

// -- read --------------------------------------------------------------------------

caf::error pg_store::read_block_task(task_id id, kept_task& out, task_id& block) {
  auto key = std::to_string(id);
  pg_rows r;
  if (auto err = db_.exec("SELECT first_id, last_id, tasks FROM gasched_news WHERE first_id "
                          "<= $1 ORDER BY first_id DESC LIMIT 1",
                          {key.c_str()}, "cannot read a result", &r))
    return err;
  if (r.rows() == 1 && static_cast<task_id>(r.int64(0, 1)) >= id) {
    block = static_cast<task_id>(r.int64(0, 0));
    auto bytes = r.bytes(0, 2);
    news_entry e;
    for (size_t at = 0; next_news(bytes.data(), bytes.size(), at, e);)
      if (e.id == id) {
        out.fn = e.fn;
        out.priority = e.priority;
        out.args.assign(e.args.data, e.args.data + e.args.size);
        return caf::none;
      }
  }
  return make_error(errc::unknown_task, "task " + key + " is not in the journal");
}

caf::error pg_store::read(task_id id, bool finished_only, kept_task& out) {
  auto key = std::to_string(id);
  auto unknown = [&] {
    return make_error(errc::unknown_task,
                      finished_only ? "no result of task " + key
                                        + " is kept: unfinished, never accepted, or pruned"
                                    : "task " + key + " is not in the journal");
  };
  pg_rows r;
  // A row of layout 3 and before, or else in a block.
  auto sql = finished_only
               ? "SELECT t.fn, t.args, t.priority, " GASCHED_END("node") ", "
                 GASCHED_END("outcome") ", " GASCHED_END("value") ", " GASCHED_END("error")
                 ", " GASCHED_END("finished_at") " FROM gasched_tasks t LEFT JOIN "
                 "gasched_ends e ON e.id = t.id WHERE t.id = $1 AND " GASCHED_ENDED
               : "SELECT fn, args, priority FROM gasched_tasks WHERE id = $1";
  if (auto err = db_.exec(sql, {key.c_str()}, "cannot read a result", &r))
    return err;
  if (r.rows() == 0) {
    task_id block = 0;
    if (auto err = read_block_task(id, out, block))
      return is(err, errc::unknown_task) ? unknown() : err;
    if (!finished_only)
      return caf::none;
    auto news = std::to_string(block);
    if (auto err = db_.exec("SELECT finished_at, ends FROM gasched_done WHERE news = $1",
                            {news.c_str()}, "cannot read a result", &r))
      return err;
    for (int i = 0; i < r.rows(); ++i) {
      auto bytes = r.bytes(i, 1);
      done_entry e;
      for (size_t at = 0; next_done(bytes.data(), bytes.size(), at, e);)
        if (e.id == id) {
          out.node = e.node;
          out.how = static_cast<outcome_kind>(e.outcome);
          out.value.assign(e.value.data, e.value.data + e.value.size);
          out.error.assign(e.error.data, e.error.data + e.error.size);
          out.finished_at = r.int64(i, 0);
          return caf::none;
        }
    }
    return unknown();
  }
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
