// The actor system's config of gasched-run: gasched::init with the
// heartbeat options of the command line, then the --caf#key=value options
// (they win over everything else).
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>

namespace gasched::run {

struct options;

/// An error names the --caf# option that CAF did not accept.
caf::error configure_actor_system(caf::actor_system_config& cfg, const options& opts);

} // namespace gasched::run
