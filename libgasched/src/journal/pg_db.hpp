// A libpq connection with gasched's errors: every failure names the
// database by its URL without the password, and the server's own words.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>

struct pg_conn;
struct pg_result;

namespace gasched::detail {

/// Whether `spec` is a PostgreSQL URL (postgresql:// or postgres://).
bool is_pg_url(const std::string& spec);

/// `url` with any password removed (user:secret@ and password=...).
std::string redact_pg_url(const std::string& url);

/// One result of a query; empty on failure.
class pg_rows {
public:
  pg_rows() = default;
  explicit pg_rows(void* res) : res_(res, &clear) {
  }
  int rows() const;
  bool null(int row, int col) const;
  /// A column of a text result.
  std::string text(int row, int col) const;
  int64_t int64(int row, int col) const;
  /// A bytea column of a text result, unescaped.
  std::vector<char> bytes(int row, int col) const;

private:
  static void clear(void* res);
  std::shared_ptr<void> res_;
};

class pg_db {
public:
  pg_db() = default;
  ~pg_db();
  pg_db(const pg_db&) = delete;
  pg_db& operator=(const pg_db&) = delete;

  /// Connects to `url` (within `timeout_s` seconds). Error journal_error:
  /// unreachable, wrong URL, refused (a wrong password), in the server's words.
  /// `session` is the application_name the server shows (pg_stat_activity).
  caf::error connect(const std::string& url, int timeout_s = 5,
                     const std::string& session = "gasched");

  /// Closes the connection (a later connect() opens a new one).
  void close();

  /// Shuts the connection's socket down, from any thread: a query waiting
  /// for a server that cannot be reached (a cut network keeps the socket
  /// open, and libpq would wait for ever) fails at once.
  void cut() noexcept;

  /// The URL without its password, for messages.
  const std::string& where() const noexcept {
    return where_;
  }

  /// The server process of this session (for pg_terminate_backend).
  int backend_pid() const;

  /// From now on every exec() not answered within `bound` fails (and closes
  /// the connection), as exec_until does; 0 (the default): no bound. For a
  /// connection whose every query must end though the server is cut off by
  /// the network: a standby's, a resume's.
  void bound_each(std::chrono::milliseconds bound) noexcept {
    bound_ = bound;
  }

  /// Runs `sql` (one or more statements, no parameters); `out` gets the last result.
  caf::error exec(const std::string& sql, const char* what, pg_rows* out = nullptr);

  /// Runs one statement with text parameters (nullptr: NULL).
  caf::error exec(const std::string& sql, const std::vector<const char*>& params,
                  const char* what, pg_rows* out = nullptr);

  /// The same, failed (and the connection closed) when no answer came by
  /// `deadline`: the server may be cut off by the network, where the socket
  /// stays open and no timeout of TCP's or the server's ends the wait.
  /// Without params `sql` may be several statements.
  caf::error exec_until(std::chrono::steady_clock::time_point deadline, const std::string& sql,
                        const std::vector<const char*>& params, const char* what,
                        pg_rows* out = nullptr);

  /// COPY `into` FROM STDIN (text format) with `data` as its rows.
  caf::error copy_in(const std::string& into, const std::string& data, const char* what);

  /// The same in parts, so that the server reads rows while the next are
  /// made: copy_begin, copy_put any number of times, copy_end.
  caf::error copy_begin(const std::string& into, const char* what);
  caf::error copy_put(const std::string& data, const char* what);
  caf::error copy_end(const char* what);

  /// Runs `sql` as one query of several statements, `copies` of which are
  /// COPY ... FROM STDIN: `feed(i)` sends the rows of the i-th (copy_put),
  /// and the server reads them as soon as it comes to that statement. One
  /// round trip for everything else. `out` gets the last result with rows.
  caf::error exec_with_copies(const std::string& sql, size_t copies,
                              const std::function<caf::error(size_t)>& feed,
                              const char* what, pg_rows* out = nullptr);

  /// Whether the connection is usable.
  bool ok() const;

  /// The error of a failed call: journal_error naming the database, `what`
  /// failed, and the server's message; `sqlstate` gets its SQLSTATE.
  caf::error fail(const char* what, void* res = nullptr);

  /// The SQLSTATE of the last failure ("" if none).
  const std::string& last_sqlstate() const noexcept {
    return sqlstate_;
  }

private:
  pg_conn* conn_ = nullptr;
  std::atomic<int> sock_{-1};  ///< conn_'s socket, for cut()
  std::string where_;
  std::string sqlstate_;
  std::chrono::milliseconds bound_{0};
};

} // namespace gasched::detail
