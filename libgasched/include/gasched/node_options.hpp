// Options of a node. Every option states its default and what changing it
// costs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/timespan.hpp>

namespace gasched {

struct node_options {
  /// Shown in stats and in every task_result. Default (empty):
  /// "<host>:<pid>/<actor id>", unique in a cluster; gasched-node names a
  /// published node "<host>:<port>" and a node that only joins "<host>:<pid>".
  std::string name;

  /// Tasks this node runs at once. The scheduler gives it at most
  /// min(slots, max_workers). Default: 0, meaning "as many as max_workers",
  /// but never more than 256 whatever a scheduler asks. Each slot is one
  /// long-lived task-worker actor, spawned when first needed, with a thread
  /// of its own once it runs a blocking function (registry.hpp, call_mode). A
  /// node holds at most 101 tasks per slot (running and prefetched).
  uint32_t slots = 0;

  /// Restart intensity of the node's task-worker actors, as an OTP
  /// supervisor's: a worker that dies (its task counts as a failed attempt)
  /// is restarted, but more than worker_restarts deaths within
  /// worker_restart_period and the node stops, so that its scheduler moves
  /// its tasks to other nodes. Defaults: 10 within 10 s. More tolerates a
  /// task that keeps killing its worker for longer on this node; fewer hands
  /// a node whose workers keep dying over to the scheduler's node-failure
  /// handling (requeue, quarantine after max_node_failures) sooner.
  uint32_t worker_restarts = 10;
  caf::timespan worker_restart_period = std::chrono::seconds(10);

  /// Whether any scheduler that greets this node (as one does when it is
  /// handed the node by address) may send it work. false: only the scheduler
  /// it joined. Default: true; gasched-node sets false when it only joins.
  bool serve_any = true;

  /// Bounds on the retry policy a scheduler sends: at most max_attempts
  /// attempts per task (0: as the scheduler says, gasched::infinity
  /// included), and at least min_retry_pause between them. Defaults: 0 and
  /// 0 s, the scheduler's word. Set them on a node that serves schedulers it
  /// does not trust to be sensible; retry log lines are rate-limited anyway.
  uint32_t max_attempts = 0;
  caf::timespan min_retry_pause{0};

  /// Join the scheduler published at join_host:join_port, and join again
  /// whenever the connection is lost: its process died, or the link was cut
  /// or went silent (see heartbeat_options). Default: empty, no joining (the
  /// node waits to be handed to a scheduler).
  std::string join_host;
  uint16_t join_port = 0;

  /// More schedulers to join, "HOST:PORT" each (after join_host:join_port
  /// when that is set): schedulers sharing a journal, one active, the others
  /// standbys. The node joins the active one (a standby refuses with
  /// errc::standby naming the active, tried next; see active_search.hpp),
  /// and when it is lost or steps down, finds the new active among them,
  /// within about a second. An entry that is not an address is logged and
  /// skipped. Default: none.
  std::vector<std::string> join;

  /// Bounds of the pause between join attempts; it doubles from the first
  /// to the second, each pause drawn from [pause/2, pause]. Default: 100 ms
  /// to 1 s, so a node is back within about a second of its network healing.
  /// A longer maximum means fewer connection attempts against a scheduler
  /// that is down for long, and a slower return once it is back.
  caf::timespan join_retry_min = std::chrono::milliseconds(100);
  caf::timespan join_retry_max = std::chrono::seconds(1);

  /// A joined node that loses its scheduler (its process died, it stepped
  /// down, or the link was cut) keeps running that scheduler's tasks and
  /// keeps their outcomes for this long: when it joins a scheduler again
  /// (the same one restarted on its journal, or a standby that took over) it
  /// names the tasks it holds, the scheduler adopts those its journal vouches
  /// for, their outcomes count, and the node cancels the others. So a task
  /// running when a scheduler died is not run twice. When no scheduler is
  /// joined within this bound, the node cancels them as it did at once
  /// before. 0: cancel them at once. Default: 60 s (a restart under systemd
  /// takes about a second; the scheduler waits scheduler_options::adopt_wait
  /// for claims once it is back). Only for join mode: a node handed to a
  /// scheduler cancels that scheduler's tasks when it goes down.
  caf::timespan keep_orphans = std::chrono::seconds(60);
};

} // namespace gasched
