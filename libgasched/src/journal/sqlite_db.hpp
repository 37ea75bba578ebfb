// A thin RAII layer over SQLite's C API: one connection, prepared statements,
// and errors (errc::journal_error) that name the file and say in plain words
// what went wrong: locked, not a database, corrupt, disk full, read-only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace gasched::detail {

class sqlite_db {
public:
  /// Opens `path` (SQLITE_OPEN_* flags). Error: cannot open it.
  static caf::error open(const std::string& path, int flags, sqlite_db& out);

  sqlite_db() = default;
  sqlite_db(sqlite_db&& other) noexcept;
  sqlite_db& operator=(sqlite_db&& other) noexcept;
  sqlite_db(const sqlite_db&) = delete;
  sqlite_db& operator=(const sqlite_db&) = delete;
  ~sqlite_db();

  sqlite3* get() const noexcept {
    return db_;
  }

  const std::string& path() const noexcept {
    return path_;
  }

  /// Runs statements that return no rows.
  caf::error exec(const char* sql, const char* what);

  /// Runs `body` (returning caf::error) in a transaction that `begin` opens
  /// ("BEGIN", "BEGIN EXCLUSIVE"; `what` names it in an error): committed
  /// when body succeeds, rolled back otherwise. The first error of the three.
  template <class Body>
  caf::error transaction(const char* begin, const char* what, Body&& body) {
    if (auto err = exec(begin, what))
      return err;
    caf::error err = body();
    if (!err)
      err = exec("COMMIT", "cannot write it");
    if (err)
      rollback();
    return err;
  }

  /// Ends the open transaction, dropping its changes. Called after an error,
  /// so its own error is not reported.
  void rollback() noexcept;

  /// The error for SQLite code `rc` while doing `what`.
  caf::error fail(int rc, const std::string& what) const;

  void close() noexcept;

private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class sqlite_stmt {
public:
  sqlite_stmt() = default;
  sqlite_stmt(sqlite_stmt&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {
  }
  sqlite_stmt& operator=(sqlite_stmt&& other) noexcept;
  sqlite_stmt(const sqlite_stmt&) = delete;
  sqlite_stmt& operator=(const sqlite_stmt&) = delete;
  ~sqlite_stmt();

  caf::error prepare(sqlite_db& db, const char* sql);

  // Parameters count from 1, columns from 0, as in SQLite.
  sqlite_stmt& bind(int i, int64_t x);
  sqlite_stmt& bind(int i, const std::string& x);
  sqlite_stmt& bind_blob(int i, const void* data, size_t size);
  sqlite_stmt& bind_null(int i);

  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step();

  /// Steps to the end and resets; the error for `what` on failure.
  caf::error run(const sqlite_db& db, const char* what);

  void reset();

  int64_t int64(int col) const;
  bool is_null(int col) const;
  std::string text(int col) const;
  /// A blob column: its bytes (valid until the next step or reset) and size.
  std::pair<const void*, size_t> blob(int col) const;

private:
  sqlite3_stmt* stmt_ = nullptr;
};

} // namespace gasched::detail
