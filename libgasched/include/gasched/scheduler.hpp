// The scheduler side: spawning and finding schedulers. publish, connect and
// connect_scheduler (gasched/net.hpp) come with it: a scheduler's program
// publishes it or reaches one.
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "gasched/net.hpp"
#include "gasched/scheduler_options.hpp"
#include "gasched/scheduler_actor.hpp"

namespace gasched {

/// Spawns a scheduler. It first asks every node in `opts.nodes` for its name
/// and slots (waiting up to opts.node_timeout); nodes that do not answer are
/// left out, as gascheduler's ping_nodes does. Errors: errc::no_nodes_in_cluster
/// when nodes were given and none answered; errc::name_in_use;
/// errc::invalid_argument for an option out of range.
///
/// The scheduler runs until it gets stop_atom, its client exits, or it is
/// sent an exit message; stop it before its actor system is destroyed.
caf::expected<scheduler_actor> spawn_scheduler(caf::actor_system& sys, scheduler_options opts);

/// The running scheduler of this actor system named `name`, or an invalid handle.
scheduler_actor find_scheduler(caf::actor_system& sys, const std::string& name);

} // namespace gasched
