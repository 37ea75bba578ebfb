// A node program in one call: gasched-node is this around its registry.
// It lives in its own library (link gasched::node_main) so that libgasched
// itself does not carry a command-line parser.
#pragma once

#include <functional>

#include <caf/actor_system_config.hpp>

#include "gasched/registry.hpp"

namespace gasched {

/// The whole of gasched-node, with the application's functions: parses the
/// command line (--port, --host, --join, --name, --slots, --threads, --tls,
/// --data-dir, ...; see --help), starts an actor system, publishes and/or
/// joins, and runs until SIGINT or SIGTERM. `configure`, when given, runs on
/// the actor system's config after gasched::init: register the types your
/// tasks use there; the folder of --data-dir is in the config under the key
/// "gasched.data-dir". Returns the process exit code (0, 1 when it cannot
/// start, 2 on a usage error).
int run_node(int argc, char** argv, const registry& reg,
             const std::function<void(caf::actor_system_config&)>& configure = {});

} // namespace gasched
