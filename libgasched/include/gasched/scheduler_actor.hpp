// A scheduler's interface as its clients see it: every request it answers,
// with the answer's type. Sending anything else through this handle does not
// compile, and a request's answer is checked where it is received.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "gasched/atoms.hpp"
#include "gasched/stats.hpp"
#include "gasched/task.hpp"

namespace gasched {

/// The handle spawn_scheduler, find_scheduler and connect_scheduler return.
/// Errors (caf::error, gasched::errc) come in place of any answer. The
/// scheduler's other messages (from nodes, its own timers) are internal.
using scheduler_actor = caf::typed_actor<
  // Submits one task or a batch (all or nothing against max_pending).
  caf::replies_to<execute_atom, task>::with<task_id>,
  caf::replies_to<execute_atom, std::vector<task>>::with<std::vector<task_id>>,
  // The result once the task ends: submitted with the request, or before.
  caf::replies_to<await_atom, task>::with<task_result>,
  caf::replies_to<await_atom, task_id>::with<task_result>,
  caf::replies_to<cancel_atom, task_id>::with<caf::ok_atom>,
  // Results of the sender's process's tasks, streamed to it in batches.
  caf::replies_to<subscribe_atom>::with<caf::ok_atom>,
  caf::replies_to<stats_atom>::with<stats>,
  // Pending in queue order, then running.
  caf::replies_to<unfinished_atom>::with<std::vector<task>>,
  caf::replies_to<get_max_workers_atom>::with<uint32_t>,
  // From the scheduler's process, its client or an admin only:
  caf::replies_to<set_max_workers_atom, uint32_t>::with<caf::ok_atom>,
  caf::replies_to<set_retry_timeout_atom, caf::timespan>::with<caf::ok_atom>,
  caf::replies_to<add_node_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<note_atom, std::string, std::string>::with<caf::ok_atom>,
  caf::replies_to<note_atom, std::string>::with<std::string>,
  caf::replies_to<stop_atom>::with<caf::ok_atom>>;

} // namespace gasched
