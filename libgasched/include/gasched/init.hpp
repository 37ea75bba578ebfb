// Preparing an actor system for gasched.
#pragma once

#include <chrono>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "gasched/tls.hpp"

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
/// (e.g. --caf#middleman.connection-timeout=3s). It also picks CAF's
/// "sharing" scheduler policy unless scheduler.policy is set: its idle
/// threads sleep until work comes, where CAF's default (work stealing) wakes
/// each thread every 10 ms, so an idle process costs about nothing besides
/// its heartbeats; and one CAF thread unless scheduler.max-threads is set:
/// gasched's actors never block, and a message from a client to its
/// scheduler in the same process then runs without waking a second thread
/// (about 10 us of a task's round trip). Trade-off: an application whose own
/// actors compute, or block (which no actor should), shares that one thread
/// with the scheduler: set scheduler.max-threads for it (so does one whose
/// non-blocking task functions, registry.hpp's call_mode, take more than
/// microseconds). And middleman.workers 0 unless set: CAF's I/O thread
/// decodes and delivers each message itself, one thread wake-up less per
/// message (a remote round trip about 10-30 us shorter here). Trade-off: a
/// large message's decoding holds up reading the other connections; a
/// scheduler with many nodes on a machine with spare cores may set
/// middleman.workers=1 or more to decode in parallel. With "sharing", an
/// idle CAF thread polls for work for gasched.thread-spin (200 us) after its
/// last job before it sleeps (yielding the core between polls, and
/// sleeping at once when a yield let another thread run), like the
/// BEAM's schedulers: the answer to what it just sent then needs no thread
/// wake-up; an idle process still sleeps. 0us turns it off; the cost is up
/// to that much CPU after each burst of work. gasched.io-spin (100 us) does
/// the same for CAF's I/O thread before it blocks in epoll_wait (libgasched
/// defines epoll_wait: a call with timeout -1 polls first for that long
/// after the thread's last event, unless that event ended a sleep of 10 ms
/// or more, as an idle process's heartbeats do). gasched.io-actors (idle) runs actors that
/// CAF's I/O thread makes runnable on that thread just before it would
/// block, unless sockets are ready then: a task's round trip crosses no
/// thread; while such an actor runs no connection of the process is served,
/// so an application whose own actors compute sets it to never
/// (docs/library.md). CAF's timer thread is woken only for an entry due
/// before those it waits for. Settings made before
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
///
/// OpenSSL, process-wide: libgasched defines SSL_read, SSL_write, SSL_accept
/// and SSL_connect itself, with or without TLS enabled. Each clears the
/// calling thread's OpenSSL error queue (ERR_clear_error) and then calls
/// OpenSSL's function of that name, passing arguments and return value
/// through. Why: CAF 0.17 leaves a refused handshake's error in the queue,
/// and the next read of a member's connection on that thread would be taken
/// for a failure and dropped. The dynamic linker binds every call in the
/// process (CAF's, the application's, other libraries') to the first
/// definition in its search order: libgasched's when libgasched comes before
/// libssl there (a program that links libgasched but not libssl directly,
/// or names libgasched first; always with a static libgasched); OpenSSL's
/// otherwise, which leaves CAF's refused-handshake bug in place. What it
/// changes for an application that uses OpenSSL itself: an error an earlier
/// OpenSSL call left in a thread's queue is gone once that thread calls one
/// of the four, so read it (ERR_get_error) before, as OpenSSL's documentation
/// asks anyway; SSL_get_error after the call still reports that call's own
/// failure. SSL_read_ex, SSL_write_ex, SSL_peek and SSL_do_handshake are not
/// interposed. Besides, when CAF's own session::try_connect or try_accept
/// calls SSL_connect or SSL_accept and that first handshake step fails
/// outright, gasched's version closes the socket, which CAF would drop
/// unclosed (a descriptor lost per failed join attempt); other callers'
/// sockets are never closed.
caf::error init(caf::actor_system_config& cfg, const heartbeat_options& heartbeats = {},
                const tls_options& tls = {});

/// Checks gasched's own settings in `cfg` once its command line (or
/// caf-application.ini) is parsed: CAF checks their types, this their values.
/// Error errc::invalid_argument naming the setting and what it takes
/// (gasched.io-actors is idle or never). An actor system started with such a
/// value logs a warning and uses the default.
caf::error check_settings(const caf::actor_system_config& cfg);

} // namespace gasched
