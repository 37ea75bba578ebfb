// Internal: what this_task answers on a pool thread, set by the attempt runner.
#pragma once

#include <atomic>
#include <cstdint>

#include "gasched/task.hpp"

namespace gasched::detail {

class task_pool;

struct task_context {
  task_pool* pool = nullptr;             ///< null: not on a pool thread
  std::atomic<bool>* cancelled = nullptr;
  task_id id = 0;
  uint32_t attempt = 0;
};

/// The task the calling thread runs now (defined in this_task.cpp).
extern thread_local task_context current_task;

} // namespace gasched::detail
