// What a task function can ask about the task it runs. Outside a task these
// answer neutral values (not cancelled, id 0, empty name).
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/timespan.hpp>

#include "gasched/task.hpp"

namespace gasched::this_task {

/// True once the task was cancelled, or its node is stopping. A long task
/// should check it and return early; whatever it returns then is dropped.
bool cancelled() noexcept;

/// Sleeps for `d`, waking early when the task is cancelled.
/// Returns false when it woke because of a cancel.
bool sleep_for(caf::timespan d);

/// The running task's id within its scheduler.
task_id id() noexcept;

/// The attempt on this node, from 1 (see scheduler_options::max_retries).
uint32_t attempt() noexcept;

/// The name of the node running the task.
const std::string& node_name() noexcept;

/// The task-worker actor running the task (Erlang's self() in gascheduler's
/// worker process): its node spawned it and restarts it when it dies. An
/// invalid handle outside a task.
caf::actor worker();

} // namespace gasched::this_task
