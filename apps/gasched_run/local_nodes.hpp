// The gasched-node processes gasched-run starts on this machine: found next
// to gasched-run, started from the main thread (PR_SET_PDEATHSIG belongs to
// the thread that forks: a child of a short-lived thread would die with it),
// watched, and killed on request or at the end.
#pragma once

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
  struct node {
    tools::child_process process;
    std::string name;  ///< node-1, node-2, ...
    pid_t pid = 0;
    uint16_t port = 0;
    bool killed = false;  ///< by kill(): the --kill-node-after demonstration
    bool exited = false;  ///< found dead without our doing
    std::string exit_text;  ///< how it exited, when exited
  };

  /// Forks and execs `count` processes of `program`, each publishing its node
  /// on 127.0.0.1 (any free port) with `slots` slots. They boot while the
  /// caller does other work; ready() waits for them. They log at level
  /// `log` to our stderr, or to /dev/null when `quiet`.
  /// Throws std::runtime_error when a process cannot start.
  void launch(const std::string& program, uint32_t count, uint32_t slots,
              const std::string& log, bool quiet);

  /// Waits for every launched node's "listening on" line. Throws
  /// std::runtime_error naming the node that did not report in time.
  void ready(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  std::vector<node>& all() noexcept {
    return nodes_;
  }

  size_t size() const noexcept {
    return nodes_.size();
  }

  node* find(const std::string& name);

  /// kill -9, as a crashed machine would go.
  void kill(node& n);

  /// Nodes found dead since the last call (they exited on their own or were
  /// killed by someone else); each is reported once.
  std::vector<node*> reap_exited();

  /// Nodes neither killed nor exited.
  size_t alive() const;

  /// Asks every node still running to stop (SIGTERM), waits up to `grace`,
  /// then kills what is left. Returns how many were stopped.
  size_t stop_all(std::chrono::milliseconds grace = std::chrono::seconds(2));

private:
  std::vector<node> nodes_;
};

} // namespace gasched::run
