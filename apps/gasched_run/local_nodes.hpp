// The gasched-node processes gasched-run starts on this machine: found next
// to gasched-run, started from the main thread (PR_SET_PDEATHSIG belongs to
// the thread that forks: a child of a short-lived thread would die with it),
// watched, started again on request (supervisor.hpp decides when, from the
// cluster actor's own thread, which stops them before it ends), and killed
// on request or at the end. Each node's stderr goes to a file of its
// own, so that the last lines of a node that died can be shown.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace gasched::run {

/// gasched-node next to this program (/proc/self/exe), or an empty string.
std::string default_node_program();

class local_nodes {
public:
  /// How every node process is started.
  struct launch_options {
    std::string program;  ///< gasched-node or the user's node program
    uint32_t slots = 2;
    std::string log = "error";      ///< the nodes' --log level
    std::vector<std::string> extra;  ///< more arguments (--heartbeat ...)
    /// Folder for the nodes' stderr files (NAME.log); empty: a temporary
    /// folder, removed at the end unless keep_logs() was called.
    std::string log_dir;
  };

  struct node {
    tools::child_process process;
    std::string name;  ///< node-1, node-2, ...
    pid_t pid = 0;
    uint16_t port = 0;         ///< where it listens, once it said so
    std::string log_path;      ///< its stderr, every process under this name appended
    uint64_t log_start = 0;    ///< where the current process's stderr starts in it
    uint64_t log_shown = 0;    ///< how far new_log_lines() has read
    bool killed = false;       ///< by kill() since it last started (--kill-node-after)
    std::optional<int> death;  ///< its wait status once found dead, until restarted
    bool death_reported = false;
  };

  local_nodes() = default;
  local_nodes(const local_nodes&) = delete;
  local_nodes& operator=(const local_nodes&) = delete;
  ~local_nodes();  // removes a temporary log folder

  /// Forks and execs `count` node processes, each publishing its node on
  /// 127.0.0.1 (any free port). They boot while the caller does other work;
  /// ready() waits for them. Throws std::runtime_error when one cannot start.
  void launch(const launch_options& opts, uint32_t count);

  /// Waits for every launched node's "listening on" line. Throws
  /// std::runtime_error naming the node that did not report in time.
  void ready(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  /// Starts a dead node again under its name, on its port if it can (else
  /// on any free port), and waits up to `timeout` for its "listening on"
  /// line. False when it did not come up: its death is then that of the
  /// new process, reported again by reap_exited().
  bool restart(node& n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  std::vector<node>& all() noexcept {
    return nodes_;
  }

  size_t size() const noexcept {
    return nodes_.size();
  }

  node* find(const std::string& name);

  /// kill -9, as a crashed machine would go; reaped at once.
  void kill(node& n);

  /// Nodes found dead since the last call (killed by kill(), exited on their
  /// own, or killed by someone else); each death is reported once.
  std::vector<node*> reap_exited();

  /// Asks every node still running to stop (SIGTERM), waits up to `grace`,
  /// then kills what is left. Returns how many were stopped.
  size_t stop_all(std::chrono::milliseconds grace = std::chrono::seconds(2));

  /// The last `count` lines that n's current (or last) process wrote on stderr.
  std::vector<std::string> stderr_tail(const node& n, size_t count = 10) const;

  /// Complete lines the nodes wrote on stderr since the last call, each
  /// prefixed with the node's name; `all` also takes an unfinished last line.
  std::vector<std::string> new_log_lines(bool all = false);

  /// Keeps a temporary log folder at the end: a message points into it.
  void keep_logs() noexcept {
    remove_logs_ = false;
  }

private:
  void start(node& n, uint16_t port);
  std::optional<uint16_t> await_port(node& n, std::chrono::milliseconds timeout,
                                     std::string& why);

  launch_options opts_;
  std::vector<node> nodes_;
  bool remove_logs_ = false;
};

} // namespace gasched::run
