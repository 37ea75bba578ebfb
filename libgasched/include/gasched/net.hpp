// Reaching the processes of a cluster, for nodes and schedulers alike:
// publishing an actor, connecting to one, and the HOST:PORT addresses the
// programs take. With TLS (init's tls_options) every one of them uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/io/middleman_actor.hpp>

#include "gasched/scheduler_actor.hpp"

namespace gasched {

/// Makes `whom` (a scheduler, so that nodes can join it and remote clients
/// reach it; or a node, so that a scheduler can be handed it) reachable at
/// host:port. Port 0 picks a free port; the port is returned. The address
/// may be reused at once after a restart. Errors: errc::network_error naming
/// the host and port (in use, unknown address).
caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                                uint16_t port, const std::string& host = "127.0.0.1");

/// The actor published at host:port (a scheduler or a node), connecting if
/// needed. Errors: errc::network_error naming the address. Both calls block
/// until CAF's I/O thread has done the work: an actor that runs on that
/// thread (gasched.io-actors, init.hpp) gets errc::network_error saying so
/// instead of waiting forever, and connects with connector() instead.
caf::expected<caf::actor> connect(caf::actor_system& sys, const std::string& host,
                                  uint16_t port);

/// The scheduler published at host:port (connect, for a scheduler's typed
/// handle). Nothing checks that a scheduler is published there: CAF 0.17
/// checks interfaces only between typed actors on both ends, and gasched
/// publishes plain handles, so that a node and a scheduler share one connect.
caf::expected<scheduler_actor> connect_scheduler(caf::actor_system& sys,
                                                 const std::string& host, uint16_t port);

/// The middleman actor to connect through without blocking (CAF's OpenSSL
/// one with TLS): `self->request(connector(sys), timeout,
/// caf::connect_atom::value, host, port)` answers with (caf::node_id,
/// caf::strong_actor_ptr, std::set<std::string>); a null pointer: nothing
/// is published there.
caf::io::middleman_actor connector(caf::actor_system& sys);

/// Same as publish() for a scheduler's handle.
caf::expected<uint16_t> publish(caf::actor_system& sys, const scheduler_actor& whom,
                                uint16_t port, const std::string& host = "127.0.0.1");

/// A host and port as the programs take them on their command lines.
struct address {
  std::string host;
  uint16_t port = 0;
};

/// Parses "HOST:PORT" (the last colon splits it), or "PORT" alone when
/// `default_host` is not empty. PORT is decimal digits in min_port..65535.
/// Nothing when the text is not such an address.
std::optional<address> parse_address(const std::string& text,
                                     const std::string& default_host = {},
                                     uint16_t min_port = 1);

} // namespace gasched
