// Preparing an actor system for gasched.
#pragma once

#include <caf/actor_system_config.hpp>

namespace gasched {

/// Call on the config of every actor system of a cluster, before the actor
/// system is constructed. It loads CAF's middleman (networking), registers
/// gasched's message types and error category, and turns on connection
/// heartbeats so that a hung peer is declared down: every 200 ms a
/// heartbeat, down after 1 s of silence, unless the config (or the command
/// line, e.g. --caf#middleman.connection-timeout=3s) already sets
/// middleman.heartbeat-interval / middleman.connection-timeout.
/// Besides CAF's built-in types (integers, floating point, std::string,
/// std::vector<std::string>, caf::message, ...), it registers
/// std::vector<int32_t>, std::vector<int64_t>, std::vector<uint64_t> and
/// std::vector<double>. Other types that task arguments and results use must
/// be registered too
/// (cfg.add_message_type<T>("name")), under the same name in every process.
void init(caf::actor_system_config& cfg);

} // namespace gasched
