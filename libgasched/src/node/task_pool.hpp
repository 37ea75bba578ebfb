// A node's threads that run task functions (the task workers of the design).
//
// A task function may block for minutes, so it never runs on CAF's scheduler
// threads: a blocked CAF thread stalls every actor queued behind it. Nor does
// each task get a thread of its own: measured here, that costs an OS thread
// per task and stalls the whole process for seconds in bursts. The pool's
// threads are long-lived, one per slot, created when first needed.
//
// They are plain threads, not detached CAF actors (spawn<detached>): CAF 0.17's
// actor system joins every detached actor's thread when it is destroyed
// (actor_system::await_detached_threads, hidden actors too), so a worker
// actor blocked in a task function would keep the process from exiting, and
// stop()'s grace period could only say so. A pool thread that is still
// blocked after the grace period is reported by name and left behind, and
// the handles its job holds are kept, never released into a gone system.
//
// The parts: attempts.cpp runs one task with its retries, outbox.cpp batches
// outcomes, this_task.cpp answers a task about itself; this file hands jobs
// to threads, per scheduler (lanes).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "gasched/registry.hpp"
#include "node/outbox.hpp"
#include "wire.hpp"

namespace gasched::detail {

/// One task in the node's hands.
struct pool_job {
  scheduler_for_nodes scheduler;  // where its outcome goes
  task_id id = 0;
  uint32_t epoch = 0;
  std::string function;
  const registry::function* fn = nullptr;
  caf::message args;
  std::shared_ptr<const retry_policy> policy;
  bool cancelled = false;  // cancelled before a thread took it
  std::chrono::steady_clock::time_point received{};  // when submitted (wait_us)
};

class task_pool : public std::enable_shared_from_this<task_pool> {
public:
  /// `max_threads` 0: no bound but the schedulers' max_workers.
  task_pool(std::string node_name, std::shared_ptr<const registry> reg,
            uint32_t max_threads, caf::actor_addr node);

  /// Queues jobs of one scheduler, which lets this node run at most `limit`
  /// of its jobs at once (0: no limit); starts threads when too few are idle.
  void submit(const scheduler_for_nodes& scheduler, uint32_t limit,
              std::vector<pool_job>&& jobs);

  /// Asks the job under lease (id, epoch) of `scheduler` to stop early;
  /// its outcome is dropped.
  void cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch);

  /// Cancels every job of `scheduler` (it is gone).
  void cancel_all(const caf::actor_addr& scheduler);

  /// Sends `outcome` to `scheduler` in a batch with whatever else is ready.
  void post(const scheduler_for_nodes& scheduler, run_outcome&& outcome) {
    outbox_.post(scheduler, std::move(outcome), queued_ > 0 || busy_ > 1);
  }

  /// A job in hand, waiting or running, and not cancelled.
  struct held_lease {
    caf::actor_addr scheduler;
    task_id id;
    uint32_t epoch;
  };
  std::vector<held_lease> leases() const;

  /// Where outcomes wait for their scheduler (adoption: outbox.hpp).
  outbox& outcomes() noexcept {
    return outbox_;
  }

  /// Sends the outbox now (the node actor, when a thread asked it to).
  void flush() {
    outbox_.flush();
  }

  /// Cancels everything; threads end once their function returns. A task
  /// still running after `grace` is logged by name; the process need not
  /// wait for it.
  void stop(caf::timespan grace = std::chrono::seconds(5));

  /// Only while no thread runs.
  void rename(std::string name) {
    node_name_ = std::move(name);
  }

  const std::string& node_name() const noexcept {
    return node_name_;
  }

  size_t threads() const;

  /// Jobs of `scheduler` in hand: waiting or running.
  size_t held(const caf::actor_addr& scheduler) const;

  /// For this_task: sleeps on behalf of the calling task; false if cancelled.
  bool sleep_for(std::atomic<bool>& cancelled, caf::timespan d);

private:
  struct worker {
    std::atomic<bool> cancel{false};
    bool busy = false;
    caf::actor_addr scheduler;
    task_id id = 0;
    uint32_t epoch = 0;
    const std::string* function = nullptr;  // the job's, while busy
  };

  // The jobs of one scheduler. With prefetch a scheduler hands over more
  // jobs than it lets run at once; the rest wait here for a slot.
  struct lane {
    caf::actor_addr scheduler;
    std::deque<pool_job> jobs;
    uint32_t running = 0;
    uint32_t limit = 0;  // 0: no limit

    size_t runnable() const noexcept {
      if (limit == 0)
        return jobs.size();
      return running >= limit ? 0 : std::min<size_t>(jobs.size(), limit - running);
    }
  };

  void work(worker* w);
  void report_blocked(caf::timespan grace);
  // The following require mtx_ held.
  void start_threads();
  size_t runnable() const noexcept;
  lane* next_lane() noexcept;  // a lane with a job that may run now, round robin
  template <class Predicate>
  void cancel_if(Predicate pred);

  std::string node_name_;
  std::shared_ptr<const registry> registry_;  // keeps pool_job::fn valid
  uint32_t max_threads_;

  mutable std::mutex mtx_;
  std::condition_variable work_cv_;
  std::condition_variable cancel_cv_;
  std::vector<lane> lanes_;  // few: one per scheduler that uses this node
  size_t next_lane_ = 0;
  std::vector<std::unique_ptr<worker>> workers_;
  size_t idle_ = 0;
  bool stopping_ = false;

  std::atomic<size_t> queued_{0};  // jobs not yet taken by a thread
  std::atomic<size_t> busy_{0};    // jobs being run
  std::condition_variable idle_cv_;  // busy_ reached 0 (for stop's grace)
  outbox outbox_;
};

} // namespace gasched::detail
