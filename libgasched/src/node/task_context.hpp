// Internal: what this_task answers while a task function runs, set around the
// call by the task-worker actor (or its thread).
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>

#include "gasched/task.hpp"

namespace gasched::detail {

struct task_job;

struct task_context {
  task_job* job = nullptr;  ///< null: not in a task
  const std::string* node_name = nullptr;
  const caf::actor* worker = nullptr;
  uint32_t attempt = 0;
};

/// The task the calling thread runs now (defined in this_task.cpp).
extern thread_local task_context current_task;

} // namespace gasched::detail
