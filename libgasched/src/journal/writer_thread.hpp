// The journal's own thread: it runs one commit at a time, so that the
// scheduler goes on while SQLite writes and the disk syncs, and the next
// commit gathers what came meanwhile (group commit).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/error.hpp>

namespace gasched::detail {

class writer_thread {
public:
  writer_thread();

  /// Lets the job in hand end, then joins the thread.
  ~writer_thread();

  writer_thread(const writer_thread&) = delete;
  writer_thread& operator=(const writer_thread&) = delete;

  /// `done` runs on the writer's thread after each job ended: it wakes the
  /// owner, whose poll() then has the job's outcome.
  void on_done(std::function<void()> done);

  /// Runs `job` on the thread. Only when no job is in hand (poll() gave its
  /// outcome, or none was started).
  void start(std::function<caf::error()> job);

  /// Whether a job was started and its outcome not taken yet.
  bool in_hand() const noexcept {
    return in_hand_;
  }

  /// The outcome of the job in hand once it ended (taken: the writer is free
  /// again); nothing while it still runs.
  std::optional<caf::error> poll();

  /// Waits for the job in hand to end; poll() gives its outcome.
  void wait_ended();

private:
  void run();

  bool in_hand_ = false;  // the owner's view: started, outcome not taken
  std::mutex mtx_;
  std::condition_variable cv_;
  std::function<void()> done_;       // guarded by mtx_
  std::function<caf::error()> job_;  // guarded by mtx_: set until it ended
  caf::error outcome_;               // guarded by mtx_
  bool stop_ = false;                // guarded by mtx_
  std::thread thread_;               // last: starts once the rest is built
};

} // namespace gasched::detail
