// Tasks and their results: what a client hands the scheduler and what it gets back.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>

namespace gasched {

/// Identifies one task within one scheduler; ids grow from 1 in submission order.
using task_id = uint64_t;

/// "No limit" for counts such as `scheduler_options::max_retries`.
constexpr uint32_t infinity = std::numeric_limits<uint32_t>::max();

/// scheduler_options::prefetch: as many as cover one observed round trip.
constexpr uint32_t adaptive_prefetch = infinity - 1;

/// A unit of work: a function registered by name on the nodes, and its
/// arguments (Erlang's MFA). Tasks must be idempotent: a node that lost its
/// connection may still run a task that the scheduler has given to another.
struct task {
  std::string function;  ///< name registered with gasched::registry::add
  caf::message args;     ///< arguments; their types must be registered on every process
  int32_t priority = 0;  ///< higher runs first; FIFO within one priority
};

/// What a client receives, exactly once per task (Erlang's {Name, Result, Node, MFA}).
struct task_result {
  std::string scheduler;  ///< the scheduler's name, or "scheduler-<actor id>" when unnamed
  task_id id = 0;
  caf::message value;     ///< the function's return value when ok()
  caf::error error;       ///< a gasched::errc when !ok(); its context says more
  std::string node;       ///< the node it was running on when it ended; empty if it ended
                          ///< while queued (refused, or cancelled before a node took it)
  gasched::task task;

  bool ok() const noexcept {
    return !error;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task& x) {
  return f(caf::meta::type_name("gasched::task"), x.function, x.args, x.priority);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_result& x) {
  return f(caf::meta::type_name("gasched::task_result"), x.scheduler, x.id, x.value,
           x.error, x.node, x.task);
}

} // namespace gasched
