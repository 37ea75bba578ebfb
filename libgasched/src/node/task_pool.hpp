// A node's task workers (the design's task-worker actors) and the tasks
// waiting for one: used by the node actor only, on its own thread.
//
// As gascheduler's scheduler spawn_links a worker process per task and traps
// its exit, the node spawns task-worker actors and monitors them (one per slot,
// when first needed, kept for the next task: a spawn per task would cost
// more than an identity task) and handles their exit messages: a worker that
// dies holding a task counts as a failed attempt of that task (retried after
// the pause on a new worker, or reported with errc::max_retries when its
// attempts are used up), and is restarted. More than `restarts` deaths
// within `period` and the node gives up, as an OTP supervisor does beyond its
// restart intensity: it stops, and its scheduler sends its tasks elsewhere.
//
// The parts: run_queue.cpp queues jobs per scheduler (lanes) for the workers
// to take, task_worker.cpp runs tasks' attempts, attempts.cpp decides what
// follows an attempt, outbox.cpp batches outcomes, this_task.cpp answers a
// task about itself; this file spawns, wakes and supervises the workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "gasched/registry.hpp"
#include "node/task_job.hpp"
#include "node/task_worker.hpp"
#include "wire.hpp"

namespace gasched::detail {

class task_pool {
public:
  /// `max_workers`: at most this many tasks at once (the node's slots).
  /// `restarts` within `period`: the restart intensity.
  task_pool(caf::local_actor* node, std::string node_name, std::shared_ptr<const registry> reg,
            uint32_t max_workers, uint32_t restarts, caf::timespan period);

  /// Queues jobs of one scheduler, which lets this node run at most `limit`
  /// of its jobs at once (0: no limit), and hands them to idle workers.
  void submit(const scheduler_for_nodes& scheduler, uint32_t limit, std::vector<job_ptr>&& jobs);

  /// Asks the job under lease (id, epoch) of `scheduler` to stop early;
  /// its outcome is dropped.
  void cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch);

  /// Cancels every job of `scheduler` (it is gone).
  void cancel_all(const caf::actor_addr& scheduler);

  /// Sends `outcome` to `scheduler` in a batch with whatever else is ready.
  void post(const scheduler_for_nodes& scheduler, run_outcome&& outcome) {
    shared_->post(scheduler, std::move(outcome));
  }

  /// Whether `source` is one of this node's workers.
  bool is_worker(const caf::actor_addr& source) const;

  /// A worker exited (`why`: its exit reason): its task is reported or retried, and it
  /// is restarted. An error when the restart intensity is exceeded: the
  /// node should stop with it.
  caf::error worker_exited(const caf::actor_addr& worker, const std::string& why);

  using held_lease = run_queue::held_lease;
  std::vector<held_lease> leases() const {
    return shared_->jobs.leases();
  }

  /// Where outcomes wait for their scheduler (adoption: outbox.hpp).
  outbox& outcomes() noexcept {
    return shared_->outcomes;
  }

  /// Sends the outbox now (the node actor, when a worker asked it to).
  void flush() {
    shared_->outcomes.flush();
  }

  /// Cancels everything and ends the workers; a blocking call still running
  /// after `grace` is logged by name; the process need not wait for it.
  void stop(caf::timespan grace = std::chrono::seconds(5));

  /// Only while no worker exists.
  void rename(std::string name) {
    shared_->node_name = std::move(name);
  }

  const std::string& node_name() const noexcept {
    return shared_->node_name;
  }

  /// Workers spawned so far (alive).
  size_t workers() const;

  /// Jobs of `scheduler` in hand: waiting or running.
  size_t held(const caf::actor_addr& scheduler) const;

private:
  void dispatch();  // wakes (and spawns) workers for the jobs that may run now
  size_t slot_of(const caf::actor_addr& worker) const;  // workers_.size(): none

  caf::local_actor* node_;
  uint32_t max_workers_;
  uint32_t restarts_;
  caf::timespan period_;
  std::shared_ptr<worker_shared> shared_;
  std::vector<caf::actor> workers_;  // by slot of shared_->jobs
  std::deque<std::chrono::steady_clock::time_point> deaths_;  // within period_
  bool stopping_ = false;
};

} // namespace gasched::detail
