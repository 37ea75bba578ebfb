// Preparing an actor system for gasched.
#pragma once

#include <chrono>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
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

/// Mutual TLS for every connection of a process: it accepts and connects only
/// to peers holding a certificate signed by `ca_file`, and shows them its own
/// `cert_file`. Every process of a cluster must use it, or none. All three
/// files are needed: CAF would otherwise fall back to anonymous TLS, which
/// encrypts but authenticates nobody. The peer's name is not checked, so use
/// a CA made for this cluster only (gasched-certs makes one).
struct tls_options {
  std::string ca_file;    ///< PEM: the cluster's CA certificate
  std::string cert_file;  ///< PEM: this process's certificate, signed by the CA
  std::string key_file;   ///< PEM: its private key
  std::string passphrase; ///< of the key, if it has one

  /// DIR/ca.pem, DIR/cert.pem and DIR/key.pem, as gasched-certs writes them.
  static tls_options from_dir(const std::string& dir);

  bool enabled() const noexcept {
    return !ca_file.empty() || !cert_file.empty() || !key_file.empty();
  }
};

/// Call on the config of every actor system of a cluster, before the actor
/// system is constructed. It loads CAF's middleman (networking), registers
/// gasched's message types and error category, and turns on connection
/// heartbeats (`heartbeats`) unless the config or its command line already
/// sets middleman.heartbeat-interval / middleman.connection-timeout
/// (e.g. --caf#middleman.connection-timeout=3s). It also picks CAF's
/// "sharing" scheduler policy unless scheduler.policy is set: its idle
/// threads sleep until work comes, where CAF's default (work stealing) wakes
/// each thread every 10 ms, so an idle process costs about nothing besides
/// its heartbeats; and one CAF thread unless scheduler.max-threads is set:
/// gasched's actors never block, and a message from a client to its
/// scheduler in the same process then runs without waking a second thread
/// (about 10 us of a task's round trip). Trade-off: an application whose own
/// actors compute, or block (which no actor should), shares that one thread
/// with the scheduler: set scheduler.max-threads for it. Settings made before
/// init are kept; parse the command
/// line (or a caf-application.ini) after init to let it override. With
/// `tls` enabled, it checks the three files (readable, the key matches the
/// certificate, the certificate is current and signed by the CA) and loads
/// CAF's OpenSSL module: gasched::publish and gasched::connect, node joins
/// and reconnects then all use TLS. Errors: errc::tls_error naming the file
/// and what is wrong.
/// Besides CAF's built-in types (integers, floating point, std::string,
/// std::vector<std::string>, caf::message, ...), it registers
/// std::vector<int32_t>, std::vector<int64_t> and std::vector<double>.
/// Other types that task arguments and results use must be registered too
/// (cfg.add_message_type<T>("name")), under the same name in every process.
caf::error init(caf::actor_system_config& cfg, const heartbeat_options& heartbeats = {},
                const tls_options& tls = {});

} // namespace gasched
