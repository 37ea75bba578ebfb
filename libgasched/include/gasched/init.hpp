// Preparing an actor system for gasched.
#pragma once

#include <chrono>

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

namespace gasched {

/// How a process of the cluster tells a live peer from a lost one. Both
/// settings must agree across a cluster: a peer is declared down after
/// `heartbeat_timeout` without a heartbeat, and heartbeats come every
/// `heartbeat_interval` only from processes that send them.
struct heartbeat_options {
  /// A heartbeat on every connection this often. Default: 200 ms. Shorter
  /// detects sooner and costs a small message per connection per interval.
  caf::timespan interval = std::chrono::milliseconds(200);

  /// A peer silent this long is declared down: its tasks go back to pending
  /// and a node rejoins. Default: 1 s. Shorter finds a hung node sooner but
  /// raises false alarms on a slow or lossy network (TCP's retransmission
  /// backoff turns a 0.8 s cut into more than 1 s of silence); a node that was
  /// declared down by mistake rejoins within about a second, so a false alarm
  /// costs the work in flight on it, never a result. Longer tolerates pauses
  /// (a stopped VM, a long GC) but leaves a hung node's tasks waiting as long.
  /// 0 turns detection off (CAF's default: a hung peer is never declared down).
  caf::timespan timeout = std::chrono::seconds(1);
};

/// Call on the config of every actor system of a cluster, before the actor
/// system is constructed. It loads CAF's middleman (networking), registers
/// gasched's message types and error category, and turns on connection
/// heartbeats (`heartbeats`) unless the config or its command line already
/// sets middleman.heartbeat-interval / middleman.connection-timeout
/// (e.g. --caf#middleman.connection-timeout=3s).
/// Besides CAF's built-in types (integers, floating point, std::string,
/// std::vector<std::string>, caf::message, ...), it registers
/// std::vector<int32_t>, std::vector<int64_t> and std::vector<double>.
/// Other types that task arguments and results use must be registered too
/// (cfg.add_message_type<T>("name")), under the same name in every process.
void init(caf::actor_system_config& cfg, const heartbeat_options& heartbeats = {});

} // namespace gasched
