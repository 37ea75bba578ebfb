#include "journal/journal_file.hpp"

#include <algorithm>
#include <string>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gasched/errc.hpp"
#include "journal/journal_upgrade.hpp"

namespace gasched::detail {

namespace {

constexpr const char* schema = R"(
CREATE TABLE meta(one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL,
  next_id INTEGER NOT NULL, front_seq INTEGER NOT NULL, ticks INTEGER NOT NULL,
  succeeded INTEGER NOT NULL, failed INTEGER NOT NULL, cancelled INTEGER NOT NULL,
  requeued INTEGER NOT NULL, quarantined INTEGER NOT NULL);
CREATE TABLE functions(fn INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE nodes(node INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE tasks(id INTEGER PRIMARY KEY, fn INTEGER NOT NULL, args BLOB NOT NULL,
  priority INTEGER NOT NULL, state INTEGER NOT NULL, seq INTEGER NOT NULL,
  node_failures INTEGER NOT NULL, node INTEGER, outcome INTEGER, value BLOB, error BLOB,
  error_text TEXT, finished_at INTEGER, epoch INTEGER);
CREATE TABLE ends(id INTEGER PRIMARY KEY, node INTEGER, outcome INTEGER NOT NULL,
  value BLOB, error BLOB, error_text TEXT, finished_at INTEGER NOT NULL);
CREATE TABLE notes(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE blocks(first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, tasks BLOB NOT NULL);
CREATE TABLE moves(id INTEGER PRIMARY KEY, state INTEGER NOT NULL, seq INTEGER,
  node_failures INTEGER, node INTEGER, epoch INTEGER);
CREATE TABLE end_packs(first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL,
  finished_at INTEGER NOT NULL, ends BLOB NOT NULL);
CREATE TABLE move_packs(seq INTEGER PRIMARY KEY, moves BLOB NOT NULL);
INSERT INTO meta VALUES(1, 0, 1, -1, 0, 0, 0, 0, 0, 0);
)";

caf::error refuse(const std::string& path, const std::string& why) {
  return make_error(errc::journal_error, "journal " + path + ": " + why
                                           + "; the file was left as it is (give the "
                                             "scheduler another journal: gasched-run "
                                             "--journal FILE)");
}

// One integer from a statement that returns one row, e.g. a PRAGMA.
// The first row of a statement that returns one: its first column, as
// integer or text; `what` names the failure.
caf::error query_first(sqlite_db& db, const char* sql, const char* what, int64_t* number,
                       std::string* text) {
  sqlite_stmt stmt;
  if (auto err = stmt.prepare(db, sql))
    return err;
  auto rc = stmt.step();
  if (rc != SQLITE_ROW)
    return db.fail(rc, what);
  if (number != nullptr)
    *number = stmt.int64(0);
  if (text != nullptr)
    *text = stmt.text(0);
  return caf::none;
}

caf::error query_int(sqlite_db& db, const char* sql, int64_t& out) {
  return query_first(db, sql, "cannot open it", &out, nullptr);
}

// An existing file must be a gasched journal of a format we read, or an
// empty database (one whose creation stopped before its first commit).
caf::error check_identity(sqlite_db& db, bool& fresh, int64_t& version) {
  int64_t app = 0, objects = 0;
  if (auto err = query_int(db, "PRAGMA application_id", app))
    return err;
  if (auto err = query_int(db, "PRAGMA user_version", version))
    return err;
  if (auto err = query_int(db, "SELECT count(*) FROM sqlite_master", objects))
    return err;
  fresh = app == 0 && version == 0 && objects == 0;
  if (fresh)
    return caf::none;
  if (app != journal_application_id)
    return refuse(db.path(), "not a gasched journal (an SQLite database of another "
                             "program, application_id "
                               + std::to_string(app) + ")");
  if (version > journal_format)
    return refuse(db.path(), "written by a newer gasched (journal format "
                               + std::to_string(version) + "; this one reads up to "
                               + std::to_string(journal_format) + ")");
  if (version < 1)
    return refuse(db.path(), "not a gasched journal (journal format " + std::to_string(version)
                               + " is no format gasched ever wrote)");
  return caf::none;
}

caf::error quick_check(sqlite_db& db) {
  std::string verdict;
  if (auto err = query_first(db, "PRAGMA quick_check(1)", "cannot check it", nullptr, &verdict))
    return err;
  if (verdict != "ok")
    return refuse(db.path(), "the file is corrupt (" + verdict + ")");
  return caf::none;
}

caf::error set_mode(sqlite_db& db, const journal_options& opts) {
  std::string mode;
  if (auto err = query_first(db, "PRAGMA journal_mode=WAL", "cannot switch it to WAL mode",
                             nullptr, &mode))
    return err;
  if (mode != "wal")
    return refuse(db.path(), "cannot switch it to WAL mode (got " + mode + ")");
  auto sync = opts.sync_every_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (auto err = db.exec(sync, "cannot set its synchronous mode"))
    return err;
  // Rarer checkpoints copy the same pages into the file fewer times. The page
  // cache stays at SQLite's default (2 MiB): commits append, and a larger one
  // only grew by page faults (a 32 MiB cache cost a fresh journal taking
  // 200,000 tasks 1,600 more mprotect calls and lowered its throughput).
  if (auto err = db.exec("PRAGMA cache_size=-2000; PRAGMA wal_autocheckpoint=8192",
                         "cannot set its cache size"))
    return err;
  if (opts.max_bytes == 0)
    return caf::none;
  int64_t page = 0;
  if (auto err = query_int(db, "PRAGMA page_size", page))
    return err;
  auto pages = std::to_string(std::max<uint64_t>(opts.max_bytes / page, 1));
  return db.exec(("PRAGMA max_page_count=" + pages).c_str(), "cannot set its max_bytes");
}

caf::error create_schema(sqlite_db& db) {
  auto ids = "PRAGMA application_id=" + std::to_string(journal_application_id)
             + "; PRAGMA user_version=" + std::to_string(journal_format) + ";";
  if (auto err = db.exec(ids.c_str(), "cannot create it"))
    return err;
  return db.exec(schema, "cannot create it");
}

// SQLite files are whole pages: a file cut within its header or mid-page was
// truncated. (Anything else SQLite itself judges.)
caf::error check_size(const std::string& path, int fd, off_t size) {
  unsigned char header[100];
  auto n = ::pread(fd, header, sizeof header, 0);
  if (n < 16 || std::memcmp(header, "SQLite format 3", 16) != 0)
    return caf::none;
  auto bytes = std::to_string(size) + " bytes, ";
  if (n < static_cast<ssize_t>(sizeof header))
    return refuse(path, "the file is corrupt or truncated (" + bytes + "shorter than its header)");
  auto page = off_t{header[16]} << 8 | header[17];
  if (page == 1)
    page = 65536;
  if (page >= 512 && size % page != 0)
    return refuse(path, "the file is corrupt or truncated (" + bytes + "not a whole number of "
                          + std::to_string(page) + "-byte pages)");
  return caf::none;
}

// Before SQLite sees the file: it must be a regular file we may write, or
// one we can create, and not visibly truncated. Our own open() says why not
// in the system's words (SQLite falls back to read-only and loses them).
caf::error check_file(const std::string& path, bool& fresh) {
  struct stat st;
  auto exists = ::stat(path.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode))
    return refuse(path, "not a regular file");
  auto fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (exists ? 0 : O_CREAT), 0644);
  if (fd < 0) {
    auto why = std::string{std::strerror(errno)};
    if (exists)
      return refuse(path, "cannot write it: " + why);
    return make_error(errc::journal_error, "journal " + path + ": cannot create it: " + why);
  }
  auto err = exists ? check_size(path, fd, st.st_size) : caf::none;
  ::close(fd);
  // Only an absent or empty file becomes a new journal: anything else must
  // prove to be one, so that no other file is ever overwritten.
  fresh = !exists || st.st_size == 0;
  return err;
}

} // namespace

caf::error read_meta(sqlite_db& db, journal_meta& meta) {
  sqlite_stmt stmt;
  if (auto err = stmt.prepare(db, "SELECT generation, next_id, front_seq, ticks, succeeded, "
                                  "failed, cancelled, requeued, quarantined FROM meta"))
    return err;
  auto rc = stmt.step();
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? refuse(db.path(), "the file is corrupt (no meta row)")
                             : db.fail(rc, "cannot read it");
  auto u64 = [&](int col) { return static_cast<uint64_t>(stmt.int64(col)); };
  meta.generation = static_cast<uint32_t>(stmt.int64(0));
  meta.next_id = u64(1);
  meta.front_seq = stmt.int64(2);
  auto& c = meta.count;
  c = core_counters{u64(3), u64(4), u64(5), u64(6), u64(7), u64(8), 0};
  return caf::none;
}

void bind_meta(sqlite_stmt& stmt, const journal_meta& meta) {
  auto i64 = [](uint64_t x) { return static_cast<int64_t>(x); };
  auto& c = meta.count;
  stmt.bind(1, int64_t{meta.generation})
    .bind(2, i64(meta.next_id))
    .bind(3, meta.front_seq)
    .bind(4, i64(c.ticks))
    .bind(5, i64(c.succeeded))
    .bind(6, i64(c.failed))
    .bind(7, i64(c.cancelled))
    .bind(8, i64(c.requeued))
    .bind(9, i64(c.quarantined));
}

caf::error open_journal_file(const std::string& path, const journal_options& opts,
                             sqlite_db& db, bool& fresh) {
  if (auto err = check_file(path, fresh))
    return err;
  if (auto err = sqlite_db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, db))
    return err;
  // Exclusive locking: the lock taken by the first access is held until
  // close, and WAL keeps its index in memory (no -shm file). A second opener
  // fails at once with SQLITE_BUSY (no busy timeout is set).
  if (auto err = db.exec("PRAGMA locking_mode=EXCLUSIVE", "cannot lock it"))
    return err;
  int64_t version = journal_format;
  if (!fresh)
    if (auto err = check_identity(db, fresh, version))
      return err;
  if (auto err = set_mode(db, opts))
    return err;
  return db.transaction("BEGIN EXCLUSIVE", "cannot lock it", [&]() -> caf::error {
    if (fresh)
      return create_schema(db);
    if (opts.check_on_open)
      if (auto err = quick_check(db))
        return err;
    return upgrade_journal(db, version);
  });
}

} // namespace gasched::detail
