#include "journal/pg_db.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <libpq-fe.h>

#include "gasched/errc.hpp"

namespace gasched::detail {

namespace {

// libpq's messages span lines ("...failed: Connection refused\n\tIs the
// server running..."): one line for a log or stderr.
std::string one_line(std::string why) {
  std::string out;
  for (auto c : why) {
    if (c == '\n' || c == '\t' || c == '\r') {
      if (!out.empty() && out.back() != ' ')
        out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

} // namespace

bool is_pg_url(const std::string& spec) {
  return spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0;
}

std::string redact_pg_url(const std::string& url) {
  auto out = url;
  // scheme://user:secret@host
  auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    auto start = scheme + 3;
    auto at = out.find('@', start);
    auto slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at)
        out.erase(colon, at - colon);
    }
  }
  // ?password=secret&...
  for (auto p = out.find("password="); p != std::string::npos; p = out.find("password=", p)) {
    auto end = out.find('&', p);
    out.erase(p + 9, (end == std::string::npos ? out.size() : end) - (p + 9));
    out.insert(p + 9, "***");
    p += 12;
  }
  return out;
}

// -- pg_rows -----------------------------------------------------------------------

void pg_rows::clear(void* res) {
  PQclear(static_cast<PGresult*>(res));
}

int pg_rows::rows() const {
  return res_ ? PQntuples(static_cast<PGresult*>(res_.get())) : 0;
}

bool pg_rows::null(int row, int col) const {
  return PQgetisnull(static_cast<PGresult*>(res_.get()), row, col) != 0;
}

std::string pg_rows::text(int row, int col) const {
  auto res = static_cast<PGresult*>(res_.get());
  return std::string{PQgetvalue(res, row, col),
                     static_cast<size_t>(PQgetlength(res, row, col))};
}

int64_t pg_rows::int64(int row, int col) const {
  return std::strtoll(PQgetvalue(static_cast<PGresult*>(res_.get()), row, col), nullptr, 10);
}

std::vector<char> pg_rows::bytes(int row, int col) const {
  std::vector<char> out;
  if (null(row, col))
    return out;
  // Text results show bytea as \x and hex digits (bytea_output = hex).
  auto v = PQgetvalue(static_cast<PGresult*>(res_.get()), row, col);
  auto n = std::strlen(v);
  if (n < 2 || v[0] != '\\' || v[1] != 'x')
    return out;
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  out.resize((n - 2) / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(hex(v[2 + 2 * i]) << 4 | hex(v[3 + 2 * i]));
  return out;
}

// -- pg_db -------------------------------------------------------------------------

pg_db::~pg_db() {
  if (conn_ != nullptr)
    PQfinish(conn_);
}

void pg_db::close() {
  sock_ = -1;
  if (conn_ != nullptr)
    PQfinish(conn_);
  conn_ = nullptr;
}

void pg_db::cut() noexcept {
  int fd = sock_.load();
  if (fd >= 0)
    ::shutdown(fd, SHUT_RDWR);
}

caf::error pg_db::connect(const std::string& url, int timeout_s, const std::string& session) {
  close();
  where_ = redact_pg_url(url);
  // A URL libpq cannot read is named as such, not as a server not found.
  char* parse_error = nullptr;
  if (auto parsed = PQconninfoParse(url.c_str(), &parse_error)) {
    PQconninfoFree(parsed);
  } else {
    std::string why = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    // libpq quotes the URL, password and all.
    for (auto at = why.find(url); at != std::string::npos; at = why.find(url, at + where_.size()))
      why.replace(at, url.size(), where_);
    return make_error(errc::journal_error, "journal " + where_
                                             + ": not a valid PostgreSQL URL: " + one_line(why));
  }
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  auto timeout = std::to_string(timeout_s);
  const char* values[] = {url.c_str(), timeout.c_str(), session.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr)
    return make_error(errc::journal_error, "journal " + where_ + ": out of memory");
  if (PQstatus(conn_) != CONNECTION_OK)
    return make_error(errc::journal_error, "journal " + where_ + ": cannot connect to the "
                                             "database: " + one_line(PQerrorMessage(conn_)));
  sock_ = PQsocket(conn_);
  // Results of bytea in hex; no notices on stderr.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return exec("SET bytea_output = hex; SET client_min_messages = warning", "cannot set up "
                                                                          "the session");
}

int pg_db::backend_pid() const {
  return conn_ != nullptr ? PQbackendPID(conn_) : 0;
}

bool pg_db::ok() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

caf::error pg_db::fail(const char* what, void* res) {
  std::string why;
  sqlstate_.clear();
  if (res != nullptr) {
    auto r = static_cast<PGresult*>(res);
    why = PQresultErrorMessage(r);
    if (auto s = PQresultErrorField(r, PG_DIAG_SQLSTATE))
      sqlstate_ = s;
  }
  if (why.empty() && conn_ != nullptr)
    why = PQerrorMessage(conn_);
  why = one_line(why);
  return make_error(errc::journal_error, "journal " + where_ + ": " + what + ": " + why);
}

namespace {

bool good(PGresult* res) {
  auto s = PQresultStatus(res);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

} // namespace

caf::error pg_db::exec(const std::string& sql, const char* what, pg_rows* out) {
  if (bound_.count() > 0)
    return exec_until(std::chrono::steady_clock::now() + bound_, sql, {}, what, out);
  auto res = PQexec(conn_, sql.c_str());
  if (!good(res)) {
    auto err = fail(what, res);
    PQclear(res);
    return err;
  }
  if (out != nullptr)
    *out = pg_rows{res};
  else
    PQclear(res);
  return caf::none;
}

caf::error pg_db::exec(const std::string& sql, const std::vector<const char*>& params,
                       const char* what, pg_rows* out) {
  if (bound_.count() > 0)
    return exec_until(std::chrono::steady_clock::now() + bound_, sql, params, what, out);
  auto res = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                          params.data(), nullptr, nullptr, 0);
  if (!good(res)) {
    auto err = fail(what, res);
    PQclear(res);
    return err;
  }
  if (out != nullptr)
    *out = pg_rows{res};
  else
    PQclear(res);
  return caf::none;
}

caf::error pg_db::copy_in(const std::string& into, const std::string& data, const char* what) {
  if (auto err = copy_begin(into, what))
    return err;
  if (auto err = copy_put(data, what))
    return err;
  return copy_end(what);
}

caf::error pg_db::copy_begin(const std::string& into, const char* what) {
  auto res = PQexec(conn_, ("COPY " + into + " FROM STDIN").c_str());
  if (PQresultStatus(res) != PGRES_COPY_IN) {
    auto err = fail(what, res);
    PQclear(res);
    return err;
  }
  PQclear(res);
  return caf::none;
}

caf::error pg_db::copy_put(const std::string& data, const char* what) {
  if (!data.empty() && PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1)
    return fail(what);
  return caf::none;
}

caf::error pg_db::copy_end(const char* what) {
  if (PQputCopyEnd(conn_, nullptr) != 1)
    return fail(what);
  caf::error err;
  while (auto res = PQgetResult(conn_)) {
    if (!err && !good(res))
      err = fail(what, res);
    PQclear(res);
  }
  return err;
}

caf::error pg_db::exec_until(std::chrono::steady_clock::time_point deadline,
                             const std::string& sql, const std::vector<const char*>& params,
                             const char* what, pg_rows* out) {
  using namespace std::chrono;
  if (conn_ == nullptr)
    return fail(what);
  auto sent = params.empty() ? PQsendQuery(conn_, sql.c_str())
                             : PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()),
                                                 nullptr, params.data(), nullptr, nullptr, 0);
  if (sent != 1)
    return fail(what);
  auto budget = [&] {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    return static_cast<int>(std::max<long long>(left, 0));
  };
  // Waits for the socket; false when the deadline passed first.
  auto wait = [&](short events) {
    for (;;) {
      pollfd p{PQsocket(conn_), events, 0};
      auto n = ::poll(&p, 1, budget());
      if (n > 0)
        return true;
      if (n == 0 || errno != EINTR)
        return n != 0;
    }
  };
  auto timed_out = [&] {
    auto err = make_error(errc::journal_error, "journal " + where_ + ": " + what
                                                 + ": the database did not answer in time");
    close();  // a late answer must never be taken for the next query's
    return err;
  };
  for (int f; (f = PQflush(conn_)) != 0;) {
    if (f < 0)
      return fail(what);
    if (!wait(POLLIN | POLLOUT))
      return timed_out();
    if (PQconsumeInput(conn_) == 0)
      return fail(what);
  }
  caf::error err;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      if (!wait(POLLIN))
        return timed_out();
      if (PQconsumeInput(conn_) == 0)
        return fail(what);
    }
    auto res = PQgetResult(conn_);
    if (res == nullptr)
      return err;
    if (!err && !good(res)) {
      err = fail(what, res);
      PQclear(res);
    } else if (out != nullptr && !err) {
      *out = pg_rows{res};
    } else {
      PQclear(res);
    }
  }
}

caf::error pg_db::exec_with_copies(const std::string& sql, size_t copies,
                                   const std::function<caf::error(size_t)>& feed,
                                   const char* what, pg_rows* out) {
  if (PQsendQuery(conn_, sql.c_str()) != 1)
    return fail(what);
  caf::error err;
  size_t copy = 0;
  while (auto res = PQgetResult(conn_)) {
    if (PQresultStatus(res) == PGRES_COPY_IN) {
      PQclear(res);
      // After an error the server gets no rows: it fails the COPY, and
      // with it the transaction.
      if (!err)
        err = copy < copies ? feed(copy) : fail(what);
      ++copy;
      if (PQputCopyEnd(conn_, err ? "gasched: the commit failed" : nullptr) != 1) {
        if (!err)
          err = fail(what);
        break;  // the connection is gone
      }
      continue;
    }
    if (!err && !good(res))
      err = fail(what, res);
    if (!err && out != nullptr && PQresultStatus(res) == PGRES_TUPLES_OK)
      *out = pg_rows{res};
    else
      PQclear(res);
  }
  if (!err && copy != copies)
    err = make_error(errc::journal_error, "journal " + where_ + ": " + what
                                            + ": the server read " + std::to_string(copy)
                                            + " of " + std::to_string(copies) + " COPYs");
  return err;
}

} // namespace gasched::detail
