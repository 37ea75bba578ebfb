// Internal: what the HTTP endpoint asks a scheduler, by message only. Each
// call is one request from a short-lived scoped actor, bounded by a timeout;
// nothing of the scheduler's memory is shared with the HTTP threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "gasched/scheduler_actor.hpp"
#include "gasched/stats.hpp"

namespace gasched::detail::http {

enum class task_state { any, pending, running };

/// One unfinished task as /api/tasks shows it.
struct task_row {
  std::string function;
  std::string args;  ///< CAF's rendering of the arguments, cut to a few hundred chars
  int32_t priority = 0;
  bool running = false;
};

/// The first `limit` unfinished tasks in one state, and how many there are.
struct task_listing {
  uint64_t pending = 0;  ///< all pending tasks, listed or not
  uint64_t running = 0;  ///< all running tasks, listed or not
  std::vector<task_row> rows;
};

caf::expected<stats> ask_stats(caf::actor_system& sys, const scheduler_actor& sched,
                               caf::timespan timeout);

caf::expected<task_listing> ask_tasks(caf::actor_system& sys, const scheduler_actor& sched,
                                      caf::timespan timeout, task_state state, size_t limit);

} // namespace gasched::detail::http
