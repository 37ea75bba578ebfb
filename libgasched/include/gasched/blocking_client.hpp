// Code outside actors (a main, a thread, a test) using a scheduler, as
// gascheduler's execute/2 does: every call blocks until the scheduler
// answers, or until the timeout, and returns the answer or an error.
#pragma once

#include <chrono>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include "gasched/scheduler_actor.hpp"
#include "gasched/stats.hpp"
#include "gasched/task.hpp"

namespace gasched {

class blocking_client {
public:
  /// `timeout` bounds every call but await, which waits as long as the task
  /// runs (a year by default) unless `await_timeout` says otherwise. Destroy the client before
  /// its actor system.
  blocking_client(caf::actor_system& sys, scheduler_actor scheduler,
                  caf::timespan timeout = std::chrono::seconds(30),
                  caf::timespan await_timeout = std::chrono::hours(24 * 365));

  /// Submits `t`; its id once the scheduler accepted it.
  caf::expected<task_id> execute(task t);

  /// Submits `t` and waits for its result (gascheduler's execute/2).
  caf::expected<task_result> await(task t);

  /// Waits for the result of a task submitted before.
  caf::expected<task_result> await(task_id id);

  /// Ends a pending or running task (errc::unknown_task when it is not).
  caf::error cancel(task_id id);

  caf::expected<gasched::stats> stats();

  /// Pending tasks in queue order, then running ones.
  caf::expected<std::vector<task>> unfinished();

  /// Stops the scheduler; errc::not_empty names what was left.
  caf::error stop();

private:
  template <class T, class... Ts>
  caf::expected<T> ask(caf::timespan timeout, Ts&&... xs);

  caf::scoped_actor self_;
  scheduler_actor scheduler_;
  caf::timespan timeout_;
  caf::timespan await_timeout_;
};

} // namespace gasched
