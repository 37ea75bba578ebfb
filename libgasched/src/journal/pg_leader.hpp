// Which of the schedulers sharing a PostgreSQL journal is active: a lease in
// the database, on a connection and a thread of its own (never the
// scheduler actor's), so that a slow commit or resume never delays it.
//
//   the lock    a session-level advisory lock held on that connection. When
//               the active's process dies (kill -9) the server ends its
//               session as the TCP connection closes and the lock is free
//               at once: a standby polling pg_try_advisory_lock every
//               `poll` gets it without waiting for the lease to expire.
//   the row     gasched_lease(one = 1, holder, address, version,
//               generation, takeovers, pid, renewed_at, expires_at), by the
//               server's clock, renewed every lease_time / 4. A standby
//               that sees it expired while the lock is still held (the
//               active hangs: kill -STOP, a stalled machine) ends every
//               session of the holder (application_name "gasched HOLDER":
//               its lock and its journal's connection) and so frees the lock.
//   standbys    gasched_standbys(holder, address, seen_at), refreshed by
//               each standby, listed by the active in its stats.
//
// The lease only says who may try: the fence (pg_store.hpp) says who may
// commit. The new active resumes the journal, which raises the fence's
// generation, so an old active that wakes can never commit again; its
// renewal fails as well and it steps down.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "journal/pg_db.hpp"

namespace gasched::detail {

/// What a scheduler knows of the lease, for its stats and its refusals.
struct lease_view {
  std::string active;           ///< the active's advertised address ("" unknown)
  uint32_t generation = 0;      ///< the journal's, as the active recorded it
  uint64_t takeovers = 0;       ///< times the lease went to a new holder
  std::vector<std::string> standbys;  ///< their addresses (the active lists them)
};

class pg_leader {
public:
  struct options {
    std::string url;      ///< the journal's database
    std::string address;  ///< where others reach this scheduler (HOST:PORT)
    std::chrono::milliseconds lease_time{1000};
    std::chrono::milliseconds poll{50};  ///< a standby's try for the lock
    std::string cluster = "gasched";     ///< the journal's (pg_check_journal)
  };

  /// Connects, makes the lease's tables if missing and tries the lock once.
  /// Error journal_error naming the database without its password: cannot
  /// connect, or the lease is held by a scheduler of another gasched
  /// version (both named).
  static caf::expected<std::unique_ptr<pg_leader>> open(options opts);

  /// Stops the thread and closes the connection (freeing the lock).
  ~pg_leader();

  pg_leader(const pg_leader&) = delete;
  pg_leader& operator=(const pg_leader&) = delete;

  /// Whether this scheduler holds the lease (thread-safe).
  bool holds() const noexcept {
    return holds_;
  }

  /// The application_name of this scheduler's sessions (its journal's
  /// too): what a standby ends when this one hangs.
  std::string session_name() const {
    return "gasched " + holder_;
  }

  /// Starts the thread (the active's renews from open() on). A standby
  /// waits for the lease, then runs `acquired` on a thread of its own
  /// (resuming may take seconds: renewals go on meanwhile). The active
  /// renews the lease and runs `lost` (on the lease's thread) once it lost
  /// it, with the reason.
  void start(std::function<void()> acquired, std::function<void(caf::error)> lost);

  /// The journal was resumed at `generation`: recorded with the next renewal.
  void confirm(uint32_t generation);

  /// A copy of what is known now.
  lease_view view() const;

  const std::string& where() const noexcept {
    return db_.where();
  }

private:
  pg_leader() = default;
  caf::error setup();
  caf::error try_lock(bool& got);
  caf::error claim();
  caf::error renew();
  caf::error watch();
  void run();

  options opts_;
  std::string holder_;
  pg_db db_;
  std::atomic<bool> holds_{false};
  std::atomic<uint32_t> confirmed_{0};
  /// When the last renewal (or the claim) that succeeded was sent.
  std::chrono::steady_clock::time_point renewed_;
  std::function<void()> acquired_;
  std::function<void(caf::error)> lost_;
  caf::error lost_early_;  ///< lost before start() gave `lost`
  mutable std::mutex mx_;
  std::condition_variable cv_;
  bool stop_ = false;
  lease_view view_;
  bool warned_ = false;  ///< a standby's database error was logged
  std::thread thread_;
  std::thread opener_;
};

} // namespace gasched::detail
