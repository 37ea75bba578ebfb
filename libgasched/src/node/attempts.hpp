// Internal: one task's attempts, as gascheduler's execute_do: call the
// function; on an exception pause and try again until max_retries attempts;
// a permanent_failure ends at once. The task-worker actor drives the loop
// (the pause is its timer); these functions decide.
#pragma once

#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/timespan.hpp>

#include "node/task_job.hpp"

namespace gasched::detail {

/// Calls the job's function once, on the calling thread, with this_task set.
attempt_result call_once(task_job& job, const std::string& node_name,
                         const caf::actor& worker);

/// What follows an attempt: the outcome to report, or another attempt after
/// `pause`.
struct next_step {
  std::optional<run_outcome> outcome;
  caf::timespan pause{0};
};

/// After attempt job.attempt gave `r` (a worker's death is r.kind failed).
next_step after_attempt(const task_job& job, attempt_result&& r, const std::string& node_name);

/// The pause before attempt `next` (2, 3, ...): retry_timeout grown by
/// backoff per attempt, capped, and drawn from [0, pause] with jitter.
caf::timespan pause_before(const retry_policy& p, uint32_t next);

} // namespace gasched::detail
