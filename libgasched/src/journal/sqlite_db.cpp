#include "journal/sqlite_db.hpp"

#include <cstring>

#include <sqlite3.h>

#include "gasched/errc.hpp"

namespace gasched::detail {

namespace {

// What an SQLite code means for someone who runs a scheduler.
std::string explain(int rc, sqlite3* db) {
  auto sys_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  auto os = sys_errno != 0 ? std::string{": "} + std::strerror(sys_errno) : std::string{};
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "it is in use by another scheduler (the file is locked): stop that one, or give "
             "this one a journal of its own (gasched-run --journal FILE)";
    case SQLITE_NOTADB:
      return "it is not a gasched journal (not an SQLite database): give the path of a "
             "journal, or of a file to make (gasched-run --journal FILE)";
    case SQLITE_CORRUPT:
      return "the file is corrupt or truncated";
    case SQLITE_FULL:
      return "the disk is full (or the journal reached its max_bytes)";
    case SQLITE_READONLY:
      return "the file or its folder is read-only (SQLite writes a -wal file beside it)";
    case SQLITE_CANTOPEN:
      return "cannot open or create the file" + os;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "permission denied" + os;
    case SQLITE_IOERR:
      return "input/output error" + os;
    default:
      return "SQLite error";
  }
}

} // namespace

caf::error sqlite_db::open(const std::string& path, int flags, sqlite_db& out) {
  out.close();
  out.path_ = path;
  auto rc = sqlite3_open_v2(path.c_str(), &out.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    auto err = out.fail(rc, "cannot open it");
    out.close();
    return err;
  }
  sqlite3_extended_result_codes(out.db_, 1);
  return caf::none;
}

sqlite_db::sqlite_db(sqlite_db&& other) noexcept
  : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {
}

sqlite_db& sqlite_db::operator=(sqlite_db&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

sqlite_db::~sqlite_db() {
  close();
}

void sqlite_db::close() noexcept {
  if (db_ != nullptr)
    sqlite3_close_v2(db_);
  db_ = nullptr;
}

caf::error sqlite_db::exec(const char* sql, const char* what) {
  auto rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? caf::none : fail(rc, what);
}

void sqlite_db::rollback() noexcept {
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

caf::error sqlite_db::fail(int rc, const std::string& what) const {
  std::string text = "journal " + path_ + ": " + what + ": " + explain(rc, db_);
  text += " (SQLite: ";
  text += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  text += ")";
  return make_error(errc::journal_error, std::move(text));
}

sqlite_stmt& sqlite_stmt::operator=(sqlite_stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

sqlite_stmt::~sqlite_stmt() {
  sqlite3_finalize(stmt_);
}

caf::error sqlite_stmt::prepare(sqlite_db& db, const char* sql) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  auto rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  return rc == SQLITE_OK ? caf::none : db.fail(rc, std::string{"cannot prepare "} + sql);
}

sqlite_stmt& sqlite_stmt::bind(int i, int64_t x) {
  sqlite3_bind_int64(stmt_, i, x);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind(int i, const std::string& x) {
  sqlite3_bind_text(stmt_, i, x.data(), static_cast<int>(x.size()), SQLITE_TRANSIENT);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind_blob(int i, const void* data, size_t size) {
  // SQLITE_STATIC: the bytes outlive the statement's step (callers reset first).
  sqlite3_bind_blob64(stmt_, i, data, size, SQLITE_STATIC);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

int sqlite_stmt::step() {
  return sqlite3_step(stmt_);
}

caf::error sqlite_stmt::run(const sqlite_db& db, const char* what) {
  auto rc = step();
  while (rc == SQLITE_ROW)
    rc = step();
  auto err = rc == SQLITE_DONE ? caf::none : db.fail(rc, what);
  reset();
  return err;
}

void sqlite_stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t sqlite_stmt::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

bool sqlite_stmt::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::string sqlite_stmt::text(int col) const {
  auto p = sqlite3_column_text(stmt_, col);
  return p == nullptr ? std::string{}
                      : std::string{reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::pair<const void*, size_t> sqlite_stmt::blob(int col) const {
  auto p = sqlite3_column_blob(stmt_, col);
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

} // namespace gasched::detail
