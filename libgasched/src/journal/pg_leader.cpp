#include "journal/pg_leader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "gasched/errc.hpp"
#include "journal/pg_store.hpp"
#include "logging.hpp"

namespace gasched::detail {

namespace {

// pg_store's schema lock is 1196640846; the lease has its own.
constexpr const char* lease_key = "1196640847";

constexpr const char* tables = R"(
BEGIN;
SELECT pg_advisory_xact_lock(1196640846);
DO $$ BEGIN
  -- The unused lease table of earlier builds of layout 1.
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
             AND table_name = 'gasched_lease' AND column_name = 'pids') THEN
    DROP TABLE gasched_lease;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS gasched_lease(one int PRIMARY KEY CHECK (one = 1),
  holder text NOT NULL, address text NOT NULL, version text NOT NULL,
  generation bigint NOT NULL, takeovers bigint NOT NULL, pid int NOT NULL,
  renewed_at timestamptz NOT NULL, expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS gasched_standbys(holder text PRIMARY KEY, address text NOT NULL,
  seen_at timestamptz NOT NULL);
COMMIT;
)";

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " milliseconds";
}

// Unique among the schedulers of a journal: the process and 64 random bits.
std::string new_holder() {
  std::random_device rd;
  uint64_t r = (uint64_t{rd()} << 32) ^ rd();
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%d-%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(r));
  return buf;
}

} // namespace

caf::expected<std::unique_ptr<pg_leader>> pg_leader::open(options opts) {
  std::unique_ptr<pg_leader> l{new pg_leader};
  l->opts_ = std::move(opts);
  l->holder_ = new_holder();
  if (auto err = l->setup())
    return err;
  bool got = false;
  if (auto err = l->try_lock(got))
    return err;
  if (got) {
    if (auto err = l->claim())
      return err;
    // Renewed from now on: resuming a large journal takes longer than a lease.
    l->thread_ = std::thread{[p = l.get()] { p->run(); }};
    return l;
  }
  if (auto err = l->watch())
    return err;
  // Standbys must run the active's code: a lease of another version is refused.
  pg_rows r;
  if (auto err = l->db_.exec("SELECT version, address FROM gasched_lease", "cannot read its lease",
                             &r))
    return err;
  if (r.rows() == 1 && r.text(0, 0) != gasched_version())
    return make_error(errc::journal_error,
                      "journal " + l->where() + ": its lease is held by gasched " + r.text(0, 0)
                        + " (the active scheduler at " + r.text(0, 1) + "), this is gasched "
                        + gasched_version()
                        + ": the schedulers of a journal must all be of one version; not "
                          "started as a standby");
  return l;
}

pg_leader::~pg_leader() {
  {
    std::lock_guard<std::mutex> guard{mx_};
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  if (opener_.joinable())
    opener_.join();
}

caf::error pg_leader::setup() {
  if (auto err = db_.connect(opts_.url, 5, session_name()))
    return err;
  // Every query ends, answered or not: a standby cut from the database by the
  // network (the socket stays open) notices, retries and can stop, rather
  // than wait in one query for ever. Two leases: the server's own
  // statement_timeout (one lease) answers first when it can.
  db_.bound_each(std::max<std::chrono::milliseconds>(2 * opts_.lease_time,
                                                     std::chrono::seconds(1)));
  // A hung server must not hold a renewal beyond the lease.
  auto timeout = "SET statement_timeout = " + std::to_string(opts_.lease_time.count());
  if (auto err = db_.exec(timeout, "cannot set up the session"))
    return err;
  // Another cluster's journal, or one of another layout, is left untouched.
  if (auto err = pg_check_journal(db_, opts_.cluster))
    return err;
  return db_.exec(tables, "cannot create the lease's tables");
}

caf::error pg_leader::try_lock(bool& got) {
  pg_rows r;
  if (auto err = db_.exec(std::string{"SELECT pg_try_advisory_lock("} + lease_key + ")",
                          "cannot try the lease", &r))
    return err;
  got = r.rows() == 1 && r.text(0, 0) == "t";
  return caf::none;
}

// The lock is ours: the row says so before anything else (a standby must not
// take a stale row for a hung holder and end this session).
caf::error pg_leader::claim() {
  pg_rows r;
  auto lease = millis(opts_.lease_time);
  auto sent = std::chrono::steady_clock::now();
  if (auto err = db_.exec_until(sent + opts_.lease_time,
        "INSERT INTO gasched_lease VALUES(1, $1, $2, $3, 0, 0, pg_backend_pid(), now(), "
        "now() + $4::interval) ON CONFLICT (one) DO UPDATE SET holder = excluded.holder, "
        "address = excluded.address, version = excluded.version, pid = excluded.pid, "
        "renewed_at = now(), expires_at = excluded.expires_at, "
        "takeovers = gasched_lease.takeovers + 1 RETURNING generation, takeovers",
        {holder_.c_str(), opts_.address.c_str(), gasched_version(), lease.c_str()},
        "cannot take the lease", &r))
    return err;
  renewed_ = sent;
  db_.exec("DELETE FROM gasched_standbys WHERE holder = $1 OR seen_at < now() - interval '1 day'",
           {holder_.c_str()}, "cannot leave the standbys");
  holds_ = true;
  std::lock_guard<std::mutex> guard{mx_};
  view_.active = opts_.address;
  view_.generation = static_cast<uint32_t>(r.int64(0, 0));
  view_.takeovers = static_cast<uint64_t>(r.int64(0, 1));
  view_.standbys.clear();
  return caf::none;
}

caf::error pg_leader::renew() {
  pg_rows r;
  auto lease = millis(opts_.lease_time);
  auto gen = std::to_string(confirmed_.load());
  // The server expires the lease lease_time after it ran the last renewal,
  // so later than lease_time after it was sent: an active that hears
  // nothing back by then (a database cut off by the network, which keeps
  // the socket open) gives up before a standby may take over.
  auto sent = std::chrono::steady_clock::now();
  auto deadline = renewed_ + opts_.lease_time;
  if (auto err = db_.exec_until(deadline, "UPDATE gasched_lease SET renewed_at = now(), "
                          "expires_at = now() + $2::interval, "
                          "generation = GREATEST(generation, $3::bigint) WHERE holder = $1 "
                          "RETURNING generation, takeovers",
                          {holder_.c_str(), lease.c_str(), gen.c_str()},
                          "cannot renew the lease", &r))
    return err;
  renewed_ = sent;
  if (r.rows() != 1)
    return make_error(errc::journal_error, "journal " + where()
                                             + ": another scheduler holds the lease now");
  pg_rows s;
  auto seen = millis(opts_.lease_time * 2);
  if (auto err = db_.exec_until(deadline, "SELECT address FROM gasched_standbys WHERE "
                                "seen_at > now() - $1::interval ORDER BY address",
                          {seen.c_str()}, "cannot list the standbys", &s))
    return err;
  std::lock_guard<std::mutex> guard{mx_};
  view_.generation = static_cast<uint32_t>(r.int64(0, 0));
  view_.takeovers = static_cast<uint64_t>(r.int64(0, 1));
  view_.standbys.clear();
  for (int i = 0; i < s.rows(); ++i)
    view_.standbys.push_back(s.text(i, 0));
  return caf::none;
}

// A standby: who is active, is the lease expired (then end the holder's
// sessions), and this standby is still here.
caf::error pg_leader::watch() {
  pg_rows r;
  if (auto err = db_.exec("SELECT address, generation, takeovers, expires_at < now(), holder, "
                          "round(extract(epoch FROM now() - renewed_at) * 1000) FROM gasched_lease",
                          "cannot read the lease", &r))
    return err;
  if (r.rows() == 1) {
    {
      std::lock_guard<std::mutex> guard{mx_};
      view_.active = r.text(0, 0);
      view_.generation = static_cast<uint32_t>(r.int64(0, 1));
      view_.takeovers = static_cast<uint64_t>(r.int64(0, 2));
    }
    if (r.text(0, 3) == "t") {
      auto name = "gasched " + r.text(0, 4);
      pg_rows k;
      if (auto err = db_.exec("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
                              "pg_stat_activity WHERE application_name = $1",
                              {name.c_str()}, "cannot end the hung active's sessions", &k))
        return err;
      if (k.int64(0, 0) > 0)
        log(log_level::warning,
            "journal {}: the active scheduler at {} has not renewed its lease for {} ms "
            "(lease time {} ms): its {} database sessions ended, so that a standby takes over",
            where(), r.text(0, 0), r.text(0, 5), opts_.lease_time.count(), k.int64(0, 0));
    }
  }
  return db_.exec("INSERT INTO gasched_standbys VALUES($1, $2, now()) ON CONFLICT (holder) "
                  "DO UPDATE SET address = excluded.address, seen_at = excluded.seen_at",
                  {holder_.c_str(), opts_.address.c_str()}, "cannot register as a standby");
}

void pg_leader::start(std::function<void()> acquired, std::function<void(caf::error)> lost) {
  caf::error lost_already;
  {
    std::lock_guard<std::mutex> guard{mx_};
    acquired_ = std::move(acquired);
    lost_ = std::move(lost);
    lost_already = std::move(lost_early_);
  }
  if (lost_already)
    lost_(std::move(lost_already));  // the lease ended before the scheduler ran
  if (!thread_.joinable())
    thread_ = std::thread{[this] { run(); }};
}

void pg_leader::confirm(uint32_t generation) {
  confirmed_ = generation;
  std::lock_guard<std::mutex> guard{mx_};
  view_.generation = std::max(view_.generation, generation);
}

lease_view pg_leader::view() const {
  std::lock_guard<std::mutex> guard{mx_};
  return view_;
}

void pg_leader::run() {
  using clock = std::chrono::steady_clock;
  auto renew_every = opts_.lease_time / 4;
  auto next_watch = clock::now();
  for (;;) {
    auto wake = clock::now();
    if (holds_) {
      if (auto err = renew()) {
        holds_ = false;
        std::function<void(caf::error)> lost;
        {
          std::lock_guard<std::mutex> guard{mx_};
          if (lost_)
            lost = lost_;
          else
            lost_early_ = err;
        }
        if (lost)
          lost(std::move(err));
        return;
      }
      wake += renew_every;
    } else {
      caf::error err;
      if (!db_.ok())
        err = setup();
      bool got = false;
      if (!err)
        err = try_lock(got);
      if (!err && got) {
        err = claim();
        if (!err) {
          log(log_level::info, "journal {}: this scheduler ({}) holds the lease now",
              where(), opts_.address);
          std::function<void()> acquired;
          {
            std::lock_guard<std::mutex> guard{mx_};
            acquired = acquired_;
          }
          if (acquired)
            opener_ = std::thread{std::move(acquired)};
          continue;
        }
      }
      if (!err && clock::now() >= next_watch) {
        err = watch();
        next_watch = clock::now() + renew_every;
      }
      if (err) {
        if (!warned_)
          log(log_level::warning, "journal {}: a standby cannot watch the lease: {}; retrying",
              where(), describe(err));
        warned_ = true;
        db_.close();
        wake += std::chrono::seconds(1);
      } else {
        if (warned_)
          log(log_level::info, "journal {}: a standby watches the lease again", where());
        warned_ = false;
        wake += opts_.poll;
      }
    }
    std::unique_lock<std::mutex> guard{mx_};
    if (cv_.wait_until(guard, wake, [this] { return stop_; }))
      return;
  }
}

} // namespace gasched::detail
