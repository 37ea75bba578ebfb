// gasched-run's command line: what a run does (the default job, a task file,
// serving), the cluster it runs on, and what it shows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "event_job/event_generator.hpp"
#include "gasched/options.hpp"
#include "process_settings.hpp"

namespace gasched::run {

/// What the command line asks for. The process settings every gasched
/// program shares (heartbeat_ms, heartbeat_timeout_ms, tls_dir, insecure,
/// threads, log, caf_args) come from process_settings, with gasched-run's
/// log level: error.
/// What anyone who reaches the port of a scheduler in plain text can do.
inline constexpr const char* strangers_can = "submit tasks to your nodes";

struct options : process_settings {
  options() {
    log = "error";
  }

  // -- the job -------------------------------------------------------------------
  std::string tasks_file;  ///< empty: the default job; "-": stdin; a file, FIFO or /dev/fd/N
  bool serve = false;      ///< no job: serve remote clients until stopped
  std::string data_dir;    ///< empty: a temporary folder (the default job) or none
  bool keep_data = false;
  events::dataset_spec data;
  bool check = true;  ///< compare the merged totals with a single-process run
  /// --tasks: most tasks read but not yet written out (queued, pending,
  /// running or, with --ordered, waiting for their turn); the reader waits.
  uint64_t max_pending = 100000;
  bool ordered = false;  ///< --tasks: results in input order
  std::string out_file;  ///< --tasks: results here instead of stdout
  std::string journal;   ///< --tasks: the scheduler's journal; resumes the run
  /// --serve on a PostgreSQL journal: HOST:PORT others reach this scheduler
  /// at (default: the --listen address) and its lease's time in ms.
  std::string advertise;
  uint32_t lease_time_ms = 1000;
  std::string journal_cluster;  ///< empty: the library's default

  // -- the cluster ---------------------------------------------------------------
  uint32_t nodes = 2;
  uint32_t slots = 2;
  std::string node_program;  ///< empty: gasched-node next to gasched-run
  std::string listen_host;   ///< with listen_port >= 0; 127.0.0.1 unless given
  int listen_port = -1;      ///< -1: do not publish the scheduler
  std::string connect_host;  ///< not empty: be a client of that scheduler
  uint16_t connect_port = 0;
  /// --connect A,B,C (schedulers sharing a journal): every address; the run
  /// starts with the active one among them. Empty for a single address.
  std::vector<std::string> connect_list;
  uint32_t max_retries = 3;
  uint32_t retry_timeout_ms = 100;
  uint32_t prefetch = gasched::adaptive_prefetch;  ///< per slot a node holds beyond those it runs
  uint64_t kill_node_after = 0;  ///< 0: kill no node
  uint32_t max_restarts = 5;     ///< restarts of a local node ...
  uint32_t restart_window = 30;  ///< ... in this many seconds, at most
  /// Seconds to wait with tasks pending and no node up; 0: forever.
  /// Default 60 with local nodes, 0 otherwise (set by parse_options).
  uint32_t no_nodes_timeout = 60;

  // -- operations ----------------------------------------------------------------
  std::string http_host;  ///< with http_port >= 0; 127.0.0.1 unless given
  int http_port = -1;     ///< -1: no dashboard
  std::vector<std::string> http_names;  ///< --http-name: Host names it answers to besides its address

  bool serving_http() const noexcept {
    return http_port >= 0;
  }

  // -- output --------------------------------------------------------------------
  bool quiet = false;
  bool json = false;
  std::string progress = "auto";
  double progress_every = 2.0;  ///< seconds between plain progress lines
  bool log_given = false;  ///< --log was on the command line: show the nodes' logs too

  bool listening() const noexcept {
    return listen_port >= 0;
  }

  bool connecting() const noexcept {
    return !connect_host.empty();
  }

  /// Listening where strangers may reach the scheduler, without TLS.
  bool exposed_in_plain_text() const noexcept;
};

/// Parses the command line. Returns nullopt when the program should exit at
/// once with `exit_code`: 0 after --help, 2 after a usage error (already
/// reported on stderr).
std::optional<options> parse_options(int argc, char** argv, int& exit_code);

/// Splits "[HOST:]PORT" (HOST defaults to `default_host`). False when the
/// text is no such address or the port is out of [min_port, 65535].
bool split_address(const std::string& text, const std::string& default_host,
                   int min_port, std::string& host, int& port);

} // namespace gasched::run
