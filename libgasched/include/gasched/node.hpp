// The node side: the actors that run tasks, one per process. Its task
// functions: registry.hpp, this_task.hpp; a node program's main: run_node.hpp.
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "gasched/node_options.hpp"
#include "gasched/registry.hpp"

namespace gasched {

/// Spawns a node that runs the functions of `reg` (copied). Task functions
/// run on the node's own pool of long-lived threads, never on CAF's
/// scheduler threads, so a function may block for minutes.
caf::actor spawn_node(caf::actor_system& sys, const registry& reg, node_options opts);

/// Same, with only a name.
caf::actor spawn_node(caf::actor_system& sys, const registry& reg, std::string name);

} // namespace gasched
