// Internal: the task-worker actor, gascheduler's worker process. Its node
// spawns one per slot and monitors it (where gascheduler spawn_links and
// traps exits), wakes it when tasks wait and it is idle, and restarts it when
// it dies: the tasks it held count as failed attempts (task_pool.cpp). A node
// that stops ends its workers.
//
// It runs a task's attempts: a function registered non-blocking on itself
// (one of CAF's threads, no hand-off), a blocking one on a thread it owns,
// created with its first blocking task and ended with it. The pause between
// attempts is the actor's timer, never a thread's sleep. A worker takes its
// next job from the node's run queue itself (run_queue.hpp); its thread, done
// with a blocking call that succeeded, posts the outcome and takes the next
// blocking job too, and hands anything else (a failure, a pause, a
// non-blocking job) to its worker.
//
// The thread is a plain thread, not a detached actor: CAF 0.17 joins every
// detached actor's thread when its actor system ends, so a worker blocked in
// a task function would keep the process from exiting. A thread still in a
// function when its worker is gone finishes that call, keeps (never releases)
// the handles the call holds, and ends.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "gasched/registry.hpp"
#include "node/outbox.hpp"
#include "node/run_queue.hpp"
#include "node/task_job.hpp"

namespace gasched::detail {

/// What a node's workers and their threads share with the node.
struct worker_shared {
  worker_shared(std::string name, caf::actor_addr node, std::shared_ptr<const registry> reg)
    : node_name(std::move(name)), outcomes(std::move(node)), functions(std::move(reg)) {
  }

  std::string node_name;  // changed only before the first worker exists
  outbox outcomes;
  // Keeps task_job::fn valid for every thread that holds this: a blocking
  // call's thread may outlive its node (left behind after a stop's grace).
  std::shared_ptr<const registry> functions;
  run_queue jobs;  // waiting for a worker, and what each slot holds
  std::atomic<bool> stopping{false};

  // Blocking calls in progress, for naming the ones a stop leaves behind.
  struct call {
    task_id id;
    std::string function;
  };
  std::mutex calls_mtx;
  std::condition_variable calls_done;
  std::vector<std::shared_ptr<call>> calls;

  /// Sends `outcome` with whatever else is ready (outbox.hpp).
  void post(const scheduler_for_nodes& scheduler, run_outcome&& outcome) {
    outcomes.post(scheduler, std::move(outcome), others_in_hand());
  }

  /// Whether more outcomes may follow in a moment.
  bool others_in_hand() const noexcept {
    return jobs.queued() > 0 || jobs.busy() > 1;
  }
};

/// The worker of slot `slot` (generation `gen`) of `shared.jobs`. It looks
/// for work when it gets (run_atom) and whenever it is done with a job: it
/// takes the next job itself and runs the jobs waiting in a row; without
/// work it waits for (run_atom) from its node.
caf::actor spawn_task_worker(caf::local_actor* node_self, std::shared_ptr<worker_shared> shared,
                             size_t slot, uint64_t gen);

} // namespace gasched::detail
