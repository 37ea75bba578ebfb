// Internal: one task's attempts on a pool thread, as gascheduler's
// execute_do: call the function; on an exception pause and try again until
// max_retries attempts; a permanent_failure ends at once.
#pragma once

#include <atomic>
#include <optional>

#include "wire.hpp"

namespace gasched::detail {

class task_pool;
struct pool_job;

/// Runs `job` on the calling thread. The outcome to report, or nullopt when
/// the task was cancelled (its scheduler has moved on: nothing to report).
std::optional<run_outcome> run_attempts(task_pool& pool, pool_job& job,
                                        std::atomic<bool>& cancel);

} // namespace gasched::detail
