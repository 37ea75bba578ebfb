// The actor system's config of gasched-run: gasched::init with the
// heartbeat and TLS options of the command line, then the --caf#key=value
// options (they win over everything else).
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>

namespace gasched::run {

struct options;

/// An error is init's (gasched::errc::tls_error naming the file) or names
/// the --caf# option that CAF did not accept.
caf::error configure_actor_system(caf::actor_system_config& cfg, const options& opts);

/// Whether --tls's files would do, checked before anything starts (the
/// local nodes would otherwise fail with them); none without --tls.
caf::error check_tls(const options& opts);

} // namespace gasched::run
