// Internal: TLS settings checked and handed to CAF's OpenSSL module.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "gasched/tls.hpp"

namespace gasched::detail {

/// Whether the files make a usable identity; an error naming the file if not.
caf::error check_tls(const tls_options& tls);

/// check_tls, then loads caf::openssl::manager with the files.
caf::error load_tls(caf::actor_system_config& cfg, const tls_options& tls);

/// Whether this actor system talks TLS (init was given TLS files).
bool tls_enabled(caf::actor_system& sys);

/// The middleman actor for connects: CAF's OpenSSL one when TLS is on.
caf::io::middleman_actor middleman_of(caf::actor_system& sys);

} // namespace gasched::detail
