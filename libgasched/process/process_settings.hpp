// What every gasched program sets for its whole process: heartbeats, TLS,
// plain text beyond loopback, CAF's threads and gasched's log level. Declared
// once here (values, defaults); process_options.hpp puts them on a command
// line with their ranges and help, the same in gasched-node (and every node
// program built on gasched::run_node), gasched-run and gasched-ctl. Part of
// the gasched_node_main library; not installed: a node program of one's own
// gets these options through run_node, without a command-line parser of its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>

namespace gasched {

struct process_settings {
  /// --heartbeat: milliseconds between heartbeats on each connection.
  /// Default: heartbeat_options' (200).
  uint32_t heartbeat_ms;

  /// --heartbeat-timeout: milliseconds of silence after which a peer is
  /// declared down; 0: never. Default: heartbeat_options' (1000).
  uint32_t heartbeat_timeout_ms;

  /// --tls: DIR with ca.pem, cert.pem and key.pem; empty: plain text.
  std::string tls_dir;

  /// --insecure: listening beyond loopback in plain text is meant.
  bool insecure = false;

  /// --threads: CAF's scheduler.max-threads. Default 1 (gasched::init's: its
  /// actors never block); gasched-node takes 2. The policy stays init's
  /// (sharing: idle threads sleep); --caf#scheduler.policy changes it.
  size_t threads = 1;

  /// --log: off, error, warning, info or debug. Default warning; gasched-run
  /// takes error.
  std::string log = "warning";

  /// --caf#key=value arguments; they win over everything above.
  std::vector<std::string> caf_args;

  /// The defaults above, the heartbeats from gasched::heartbeat_options.
  process_settings();
};

/// 127.0.0.0/8, ::1 or localhost: reachable from this machine only.
bool is_loopback(const std::string& host) noexcept;

/// This machine's name (gethostname), for names and addresses a program shows.
std::string host_name();

/// Listening on `host` would be reachable beyond this machine without TLS.
bool exposed_in_plain_text(const process_settings& s, const std::string& host) noexcept;

/// The warning of a process that listens on `host` in plain text, as
/// --insecure allowed; `can` says what anyone who reaches the port can do.
std::string plain_text_warning(const std::string& host, const std::string& can);

/// gasched::init with the heartbeats and TLS of `s`, then its threads, then
/// its --caf# arguments (not parsed at all when there are none: CAF's parser
/// would also read a caf-application.ini from the working directory).
/// Errors: init's (errc::tls_error naming the file), or CAF's about a --caf#
/// argument (render it with cfg.render).
caf::error configure(caf::actor_system_config& cfg, const process_settings& s);

/// Whether --tls's files would do, checked before anything starts; none
/// without --tls.
caf::error check_tls(const process_settings& s);

/// Sets gasched's log level from `s.log` (a name parse_log_level accepts).
void apply_log_level(const process_settings& s);

} // namespace gasched
