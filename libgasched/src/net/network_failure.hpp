// Internal: what a failed publish or connect most likely means, in words a
// user can act on: the cause and the setting that fixes it. CAF's own errors
// (disconnect_during_handshake, cannot_connect_to_node, cannot_open_port)
// say which call failed, not why.
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

namespace gasched::detail {

/// Why connecting to host:port failed with `err` (CAF's): nothing listens
/// there, no such host, a TLS peer for a plain-text process or the reverse,
/// or a certificate of another CA.
std::string connect_failure(caf::actor_system& sys, const caf::error& err,
                            const std::string& host, uint16_t port);

/// Why listening on host:port failed: the port in use, an address that is
/// not this machine's, no such host, a privileged port. Probes with a socket
/// of its own, since CAF says only cannot_open_port. `options` names where
/// the port is chosen.
std::string listen_failure(const std::string& host, uint16_t port,
                           const std::string& options
                           = "gasched-run --listen HOST:PORT, gasched-node --port PORT");

} // namespace gasched::detail
