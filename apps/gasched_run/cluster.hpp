// The cluster a run uses, as a user of gasched builds it: an actor system
// (gasched::init), local gasched-node processes connected and handed to a
// scheduler (gasched::spawn_scheduler), the scheduler optionally published
// (gasched::publish) -- or, with --connect, only a handle to a scheduler
// published elsewhere (gasched::connect). Then the cluster actor
// (cluster_actor.cpp) submits tasks, collects one result per task, kills a
// node on request, supervises the local nodes (supervisor.hpp), ends a run
// that no node can finish (no_nodes_watch.hpp), and keeps the progress
// display up to date, while the calling thread waits for its answer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gasched/stats.hpp"
#include "gasched/task.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/supervisor.hpp"

namespace gasched::run {

class progress;
class stop_signals;

/// Results per node.
struct node_tally {
  uint64_t succeeded = 0;
  uint64_t failed = 0;
};

/// How a run (or a serve) went.
struct run_report {
  uint64_t total = 0;  ///< tasks submitted
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  /// Tasks the scheduler put back in the queue because their node died.
  /// This and the scheduler's other counts below are known only with a
  /// scheduler of our own (a remote one counts other clients' tasks too).
  uint64_t requeued = 0;
  bool requeued_known = false;
  uint64_t late_results = 0;  ///< results dropped because their task had been requeued
  /// --connect: schedulers followed after the one in use was lost, and
  /// results dropped because their line already had one.
  uint64_t switches = 0;
  uint64_t duplicates = 0;
  uint64_t node_joins = 0;
  uint64_t node_losses = 0;
  uint64_t node_rejoins = 0;
  std::vector<node_event> node_events;  ///< the scheduler's latest, oldest first
  std::vector<node_restart> restarts;   ///< local nodes' deaths, as supervision saw them
  std::map<std::string, node_tally> by_node;  ///< who delivered the results
  std::string killed_node;      ///< by --kill-node-after, or empty
  uint64_t killed_after = 0;    ///< results received when it was killed
  uint64_t killed_running = 0;  ///< its running tasks then, as the scheduler saw them
  int64_t killed_unix_ms = 0;
  int interrupted_by = 0;  ///< the signal that stopped the run, or 0
  std::string fatal;       ///< why the run could not complete, or empty
  double seconds = 0;      ///< from submission to the last result
  int64_t started_unix_ms = 0;  ///< when gasched-run started: event times count from it

  uint64_t unfinished() const noexcept {
    return total - succeeded - failed;
  }

  /// Seconds from the start to `unix_ms`.
  double seconds_at(int64_t unix_ms) const noexcept {
    return static_cast<double>(unix_ms - started_unix_ms) / 1000.0;
  }

  /// The restart that followed the --kill-node-after kill, or nullptr.
  const node_restart* kill_restart() const noexcept {
    for (auto& r : restarts)
      if (r.killed_by_us && r.node == killed_node)
        return &r;
    return nullptr;
  }

  bool complete() const noexcept {
    return interrupted_by == 0 && fatal.empty();
  }

  /// Counts a result, in all and for the node that delivered it.
  void count(const task_result& r) {
    auto& tally = by_node[r.node];
    ++(r.ok() ? succeeded : failed);
    ++(r.ok() ? tally.succeeded : tally.failed);
  }
};

/// Called for each result, in the order they arrive, on the cluster actor's
/// thread while the caller of cluster::run waits; `key` is the one the task
/// came with (its position in a vector).
using result_handler = std::function<void(uint64_t key, const task_result&)>;

/// Where a run's tasks come from: all at once, or as a file is read. Called
/// on the cluster actor's thread while the caller of cluster::run waits,
/// except `wake`.
class task_feed {
public:
  virtual ~task_feed() = default;

  /// As the run starts: `wake` (callable from any thread, never blocking)
  /// is to be called whenever take() has more or ended() became true.
  virtual void start(std::function<void()> wake) = 0;

  /// Appends tasks available now, each with its key: while fewer than
  /// `max` were appended (a feed may hand out a few thousand more, whole
  /// pieces of what it read).
  virtual void take(std::vector<std::pair<uint64_t, task>>& out, size_t max) = 0;

  /// No task will come any more.
  virtual bool ended() = 0;

  /// A moment (20 ms) after results came: a good time to flush what they
  /// wrote.
  virtual void idle() {
  }

  /// Bytes read so far and in all (0: a stream of unknown length), for
  /// the progress display; {0, 0} when there is no file.
  virtual std::pair<uint64_t, uint64_t> bytes() {
    return {0, 0};
  }

  /// --journal: whether the feed wants its progress recorded now. The
  /// cluster then submits nothing more until every task sent has its id, and
  /// asks checkpoint() for the note.
  virtual bool checkpoint_due() {
    return false;
  }

  /// The note to record (nullopt: none now), given the ids of the tasks
  /// without a result yet (id -> key) and the highest id known. `last`:
  /// the run is over.
  virtual std::optional<std::string>
  checkpoint(const std::unordered_map<task_id, uint64_t>& /*in_flight*/, task_id /*max_id*/,
             bool /*last*/) {
    return std::nullopt;
  }

  /// The last note is durable (`error` empty), or could not be recorded.
  virtual void checkpointed(const std::string& /*error*/) {
  }
};

class cluster {
public:
  cluster(const options& opts, progress& display, stop_signals& signals);
  ~cluster();  // stops the scheduler and every local node still running

  /// Starts the local node processes; they boot while the caller prepares
  /// its tasks. Each may read and write only in `data_dir` (default:
  /// --data, else none). Call from the main thread. Throws std::runtime_error
  /// (std::filesystem::filesystem_error when the folder cannot be made).
  void launch_nodes(const std::string& data_dir = {});

  /// Connects the nodes and spawns (and publishes) the scheduler, or connects
  /// to the remote one. Throws std::runtime_error with a message for the user.
  void start();

  /// Runs `tasks` to the end (or to a signal, or to a fatal error: a local
  /// node that died too often, no node for --no-nodes-timeout, ...).
  run_report run(std::vector<task> tasks, const result_handler& on_result);

  /// The same for tasks that come as `feed` has them, to its end; with
  /// --journal, also the tasks (key, id) an earlier run submitted to the
  /// journal's scheduler. That run's ids after `known_ids` (submitted after
  /// its last checkpoint, so submitted again now) are cancelled.
  run_report run(task_feed& feed, const result_handler& on_result,
                 std::vector<std::pair<uint64_t, task_id>> resumed = {},
                 std::optional<task_id> known_ids = std::nullopt);

  /// --journal: the note under `key` in the scheduler's journal ("" if none).
  /// Throws std::runtime_error naming the journal.
  std::string read_note(const std::string& key);

  /// --journal: stores `value` under `key`; returns once it is durable.
  /// Throws std::runtime_error naming the journal.
  void write_note(const std::string& key, const std::string& value);

  /// Serves remote clients and joining nodes until a signal.
  run_report serve();

  /// Stops the scheduler (if ours) and the local nodes. Idempotent.
  void shutdown();

  /// Where `rep`'s tasks ran: "2 nodes" (that delivered results), or "the
  /// scheduler at HOST:PORT" for a client.
  std::string description(const run_report& rep) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace gasched::run
