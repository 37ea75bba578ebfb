// Supervision of the local node processes, as an OTP supervisor with a
// one_for_one strategy and permanent children: a node that dies (a crash,
// kill -9, a task that kills it, --kill-node-after) is started again under
// the same name, on the same port when it can, at most `max_restarts` times
// in `window` per node (OTP's restart intensity). A node that dies more
// often is broken, not unlucky: supervision gives up, names it, says how it
// died and shows the end of its stderr, and the run ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "gasched_run/local_nodes.hpp"

namespace gasched::run {

class progress;

struct restart_policy {
  uint32_t max_restarts = 5;
  std::chrono::seconds window{30};
};

/// A local node's death and its restart.
struct node_restart {
  std::string node;
  int64_t unix_ms = 0;        ///< when it was found dead
  std::string death;          ///< "killed by signal 9 (SIGKILL)", "exited with status 1"
  int exit_status = -1;       ///< its exit status, or -1 when a signal ended it
  int signal = 0;             ///< the signal that ended it, or 0
  bool killed_by_us = false;  ///< by --kill-node-after
  pid_t old_pid = 0;
  pid_t new_pid = 0;  ///< 0: the new process did not come up, or none was started
  uint16_t port = 0;  ///< where the new process listens
  int64_t up_unix_ms = 0;  ///< when the new process said it listens
  bool given_up = false;  ///< not restarted: it died too often
};

/// Milliseconds since 1970, now.
int64_t unix_ms_now();

class supervisor {
public:
  supervisor(local_nodes& nodes, restart_policy policy, progress& display);

  /// Restarts each node found dead since the last call, within the restart
  /// intensity. Returns the names of the nodes that came up again: the
  /// scheduler must be handed them again. After a node died too often,
  /// fatal() says so and nothing more is restarted.
  std::vector<std::string> check();

  const std::vector<node_restart>& restarts() const noexcept {
    return restarts_;
  }

  /// Why supervision gave up (one line), or empty.
  const std::string& fatal() const noexcept {
    return fatal_;
  }

private:
  bool within_intensity(const std::string& node, std::chrono::steady_clock::time_point now);
  void give_up(local_nodes::node& n, const node_restart& death);

  local_nodes& nodes_;
  restart_policy policy_;
  progress& display_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> recent_;
  std::vector<node_restart> restarts_;
  std::string fatal_;
};

} // namespace gasched::run
