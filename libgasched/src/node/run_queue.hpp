// Internal: a node's jobs waiting for a task worker, and what each worker
// slot holds, shared by the node actor and its workers (and their threads)
// under one mutex.
//
// The node puts jobs in; a worker that is done with a job takes the next one
// itself, so the node is not on every task's path: a worker runs the jobs
// waiting in a row, and only an idle worker needs the node's message to wake
// (as a pool thread took its next task from a shared queue before workers
// were actors). What a slot holds is here so that its node can count a job
// as a failed attempt when its worker dies. Measured: with the node handing
// out every job, a node's outcomes left in batches of about 9, against
// about 85 from a shared queue (default prefetch, 100,000 identity tasks),
// and the scheduler paid for each batch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor_addr.hpp>

#include "node/task_job.hpp"

namespace gasched::detail {

class run_queue {
public:
  /// Jobs of non-blocking functions a worker runs in a row before it lets
  /// other actors have its CAF thread (it goes on with a message to itself).
  static constexpr size_t max_in_a_row = 64;

  /// A job taken, and the pause before its next attempt (a resumed job).
  struct taken {
    job_ptr job;
    caf::timespan pause{0};
  };

  /// A job in hand, waiting or running, and not cancelled.
  struct held_lease {
    caf::actor_addr scheduler;
    task_id id;
    uint32_t epoch;
  };

  /// What the node must do after queuing: wake these idle slots' workers,
  /// and spawn workers for `spawn` new slots (numbered from `first_new`).
  struct wake_plan {
    std::vector<size_t> wake;
    // By wake's entries: the slot's parked thread to wake directly instead
    // (empty: none; false: it is gone, wake the worker).
    std::vector<std::function<bool()>> pokes;
    size_t first_new = 0;
    size_t spawn = 0;
  };

  /// Queues jobs of one scheduler, which lets this node run at most
  /// `limit` of them at once (0: no limit).
  void push(const caf::actor_addr& scheduler, uint32_t limit, std::vector<job_ptr>&& jobs);

  /// Queues a job first in its lane, its next attempt after `pause`.
  void push_front(job_ptr job, caf::timespan pause);

  /// The workers to wake (and to spawn, up to `max_slots` slots) for the jobs
  /// that may run now; marks them woken. A blocking job needs a worker (its
  /// thread) of its own; one worker runs up to max_in_a_row non-blocking jobs
  /// in a row, so they wake one worker per max_in_a_row (waking one per job
  /// cost an actor activation each that found nothing to do).
  wake_plan plan(size_t max_slots);

  /// Slot `slot` (generation `gen`) is done with the job it held, if any,
  /// and takes the next job that may run; none: the slot is idle (a stale
  /// generation takes nothing). With `posted` false the finished job's outcome
  /// is not posted yet: it still counts as held until `posted(slot)`.
  std::optional<taken> next(size_t slot, uint64_t gen, bool posted = true) {
    std::lock_guard<std::mutex> guard{mtx_};
    return next_locked(slot, gen, posted);
  }

  /// As next(), for the thread of a blocking call: first, `post` (the job's
  /// outcome) while the lock is held, unless the slot's worker died or the
  /// job was cancelled meanwhile (its node counted it as a failed attempt).
  template <class Post>
  std::optional<taken> post_then_next(size_t slot, uint64_t gen, const job_ptr& job,
                                      Post&& post) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (slot < slots_.size() && slots_[slot].gen == gen && !job->cancelled)
      post();
    return next_locked(slot, gen, true);
  }

  /// Slot `slot`'s outcomes of finished jobs are posted.
  void posted(size_t slot);

  /// The worker of `slot` died: the jobs it held (the one in hand and any
  /// whose outcome it had not posted), cancelled; the slot's generation
  /// moves on, so that its old thread takes nothing more, and it is woken
  /// (its new worker is told to look for work).
  std::vector<job_ptr> worker_died(size_t slot);

  /// Slot `slot` (generation `gen`) has a thread that waits for a blocking
  /// job: a wake goes to it directly (one hand-off, not the worker's and then
  /// its thread's). `poke` wakes it, false if it is gone.
  void set_poke(size_t slot, uint64_t gen, std::function<bool()> poke);

  /// The slot's current generation (a new worker's).
  uint64_t generation(size_t slot) const;

  void cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch);
  void cancel_all(const caf::actor_addr& scheduler);

  /// Cancels everything; takes nothing from now on.
  void stop();

  std::vector<held_lease> leases() const;
  size_t held(const caf::actor_addr& scheduler) const;

  /// Hints for batching outcomes (outbox.hpp): jobs waiting, slots holding one.
  size_t queued() const noexcept {
    return queued_.load(std::memory_order_relaxed);
  }
  size_t busy() const noexcept {
    return busy_.load(std::memory_order_relaxed);
  }

private:
  // The jobs of one scheduler. With prefetch a scheduler hands over more
  // jobs than it lets run at once; the rest wait here for a worker.
  struct lane {
    caf::actor_addr scheduler;
    std::deque<taken> jobs;
    uint32_t running = 0;
    uint32_t limit = 0;  // 0: no limit

    size_t runnable() const noexcept {
      if (limit == 0)
        return jobs.size();
      return running >= limit ? 0 : std::min<size_t>(jobs.size(), limit - running);
    }
  };

  enum class slot_state : uint8_t { idle, woken, busy };

  struct slot {
    uint64_t gen = 0;
    slot_state state = slot_state::woken;
    job_ptr job;                 // in hand
    std::vector<job_ptr> done;   // finished, outcome not posted yet
    std::function<bool()> poke;  // its worker's thread, once it has one
  };

  std::optional<taken> next_locked(size_t slot, uint64_t gen, bool posted);
  lane& lane_for(const caf::actor_addr& scheduler);
  lane* next_lane() noexcept;  // one with a job that may run now, round robin
  void release(const job_ptr& job);  // its lane runs one fewer
  size_t runnable() const noexcept;

  mutable std::mutex mtx_;
  std::vector<lane> lanes_;  // few: one per scheduler that uses this node
  size_t next_lane_ = 0;
  std::vector<slot> slots_;
  size_t woken_ = 0;  // slots woken that have not looked for work yet
  bool stopped_ = false;
  size_t blocking_ = 0;  // queued jobs of blocking functions
  std::atomic<size_t> queued_{0};
  std::atomic<size_t> busy_{0};
};

} // namespace gasched::detail
