// The cluster actor's state (cluster_actor.cpp has the state diagram) and the
// functions its behaviours call, by file: cluster_run.cpp (submissions and
// results), cluster_looks.cpp (the periodic look at the cluster),
// cluster_kill.cpp (--kill-node-after), cluster_journal.cpp (--journal's
// checkpoints and notes), cluster_serve.cpp (--serve).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "gasched/scheduler_actor.hpp"
#include "gasched/stats.hpp"
#include "gasched_run/cluster.hpp"
#include "gasched_run/cluster_protocol.hpp"
#include "gasched_run/local_nodes.hpp"
#include "gasched_run/no_nodes_watch.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/supervisor.hpp"

namespace gasched::run {

using clock = std::chrono::steady_clock;

/// What the cluster's setup (cluster.cpp) made for the actor: owned by the
/// cluster, which outlives the actor. `sched` and `join_address` are set
/// before the main thread sends the first job.
struct cluster_context {
  const options& opts;
  progress& display;
  stop_signals& signals;
  local_nodes& nodes;
  supervisor& supervision;
  scheduler_actor sched;        ///< ours, or the remote one with --connect
  bool own_scheduler = false;   ///< spawned here (not --connect): its counts are ours
  std::string join_address;     ///< what nodes pass to --join, when listening
  int64_t started_unix_ms = 0;  ///< when gasched-run started
  size_t stopped_nodes = 0;     ///< node processes the actor stopped as it exited
  /// --connect: told of each scheduler followed after a switch (the dashboard).
  std::function<void(const scheduler_actor&)> followed;
};

/// The actor's state, one per behaviour (see the diagram).
enum class cluster_stage {
  idle,      ///< between jobs: answers notes, takes a run or a serve
  feeding,   ///< a run: the feed has more, tasks go in as it has them
  draining,  ///< a run: all of the feed was submitted, results come in
  closing,   ///< a run or serve ended: the last checkpoint, the last counts
  serving,   ///< --serve: remote clients and nodes until a signal
  stopping,  ///< shutdown: our scheduler stops, then the local nodes; the actor exits
};

/// --journal: where the current checkpoint is.
enum class checkpoint_step {
  none,              ///< nothing to record until the feed wants it
  awaiting_ids,      ///< wanted: nothing more is submitted until every id is back
  note_in_flight,    ///< sent; no other until it is answered
  last_in_flight,    ///< the run's last note (closing), sent
  last_recorded,     ///< the last note was answered, or closing records nothing more
};

/// --kill-node-after: the demonstration's steps.
enum class kill_demo {
  off,      ///< not asked for, or the run is too short for it (said so)
  armed,    ///< kills once that many results came
  killing,  ///< the busiest node is being looked up
  done,     ///< a node was killed
};

/// --connect: a batch of tasks submitted, its ids not back yet; sent again
/// to the scheduler that follows a lost one.
struct sent_batch {
  std::vector<uint64_t> keys;
  std::vector<task> tasks;
};

/// One run's (or serve's) bookkeeping: keys of the tasks in flight only, so
/// that memory does not grow with the run.
struct run_state {
  uint64_t number = 0;  ///< tells its replies and timers from an earlier run's
  run_report rep;
  std::promise<run_report>* report_to = nullptr;  ///< the main thread waits on it
  task_feed* feed = nullptr;                      ///< a run's, none when serving
  const result_handler* on_result = nullptr;
  std::unordered_map<task_id, uint64_t> key_of;  ///< our scheduler's ids
  uint64_t batches_unanswered = 0;  ///< sent, their ids not back yet
  // --connect (cluster_follow.cpp): what a scheduler that follows a lost one
  // must be sent again, and which lines still owe a result.
  std::map<uint64_t, sent_batch> unacked;  ///< by batch number
  uint64_t batches_sent = 0;
  std::unordered_set<uint64_t> open_keys;  ///< submitted, no result written yet
  std::optional<uint64_t> fed_total;  ///< the run's size, once all of the feed is in
  uint64_t done = 0;
  uint64_t done_when_quiet = 0;  ///< results the feed heard of at its last idle()
  std::optional<progress_counts> last_look;  ///< what the last look showed
  uint64_t slots = 0;  ///< the nodes' slots at the last look: how far ahead to submit
  no_nodes_watch watch{std::chrono::seconds(0)};
  checkpoint_step checkpoint = checkpoint_step::none;
  kill_demo kill = kill_demo::off;
  task_id max_id = 0;  ///< the highest id known (--journal)
  std::optional<task_id> cancel_after;  ///< an earlier run's ids after it, up to ours
  /// --serve: the scheduler's succeeded and failed counts when serving
  /// began (a resumed journal's counts go on from an earlier life).
  std::optional<std::pair<uint64_t, uint64_t>> served_from;
  clock::time_point started;
};

struct cluster_state {
  cluster_context* ctx = nullptr;
  cluster_stage stage = cluster_stage::idle;  ///< mirrors the behaviour
  std::optional<run_state> run;  ///< the run or serve under way
  uint64_t runs = 0;  ///< runs and serves begun, to number them
  note_job* note_to = nullptr;  ///< the note job answered next, if any
  // -- looks (cluster_looks.cpp) ------------------------------------------------------
  std::optional<clock::time_point> look_at;  ///< the next look, when one is set
  uint64_t looks_set = 0;  ///< numbers the look timers: only the latest counts
  std::optional<clock::time_point> look_asked;  ///< a look's stats request, in flight since
  std::set<std::string> nodes_seen;  ///< at the last look
  clock::time_point last_waiting_notice{};
  std::vector<std::string> hand_over;  ///< restarted nodes the scheduler must be handed
  /// Why the scheduler exited, once it has (it is monitored).
  std::optional<std::string> scheduler_exit;
  // -- following the active scheduler (--connect, cluster_follow.cpp) -----------------
  uint64_t epoch = 0;  ///< counts the schedulers followed: older ones' replies are dropped
  std::optional<uint64_t> searching;  ///< the search under way, by number
  uint64_t searches = 0;
  std::string lost;  ///< the scheduler lost and why, for the switch's log line
  /// Set when this actor ends (Ctrl-C): a search under way stops at once
  /// rather than hold the process's exit until it gives up.
  std::shared_ptr<std::atomic<bool>> search_cancel;

  static inline const char* name = "gasched-run.cluster";
};

using cluster_self = cluster_actor::stateful_pointer<cluster_state>;

/// Spawns the cluster actor on a thread of its own: what it does that may
/// block (writing results, restarting a node, gasched::connect to it) never
/// holds up the scheduler on gasched's one CAF thread (gasched::init). The
/// nodes that supervision restarts are children of that thread
/// (PR_SET_PDEATHSIG, local_nodes.hpp): the actor stops the nodes as it exits.
cluster_actor spawn_cluster_actor(caf::actor_system& sys, cluster_context& ctx);

// -- behaviours (cluster_actor.cpp) ----------------------------------------------------
void enter(cluster_self self, cluster_stage stage);

// -- a run (cluster_run.cpp) -----------------------------------------------------------
void start_run(cluster_self self, run_job* job);
void step(cluster_self self);
void take_result(cluster_self self, task_id id, const task_result& r);
/// Submits batch `batch` (keys, tasks); --connect keeps it in run.unacked
/// until its ids are back.
void send_tasks(cluster_self self, uint64_t batch, std::vector<uint64_t> keys,
                std::vector<task> tasks);
/// Whether replies and timers set for run `run_number` still concern us:
/// it is the one under way (current), and it still takes results (collecting).
bool current(cluster_self self, uint64_t run_number);
bool collecting(cluster_self self, uint64_t run_number);
/// A task the scheduler did not run, as a failed result (callers see one kind).
task_result failed_result(task_id id, caf::error e);
/// A moment after results came: the feed flushes what they wrote.
void on_quiet(cluster_self self, uint64_t run_number);

// -- looks (cluster_looks.cpp) ---------------------------------------------------------
void look_now(cluster_self self);
void look_soon(cluster_self self);
void on_look_due(cluster_self self, uint64_t number);
void supervise(cluster_self self);
void take_counts(run_report& rep, const stats& s);
progress_counts run_counts(cluster_self self, const std::optional<stats>& s);
const std::string& join_hint(cluster_self self);

// -- --kill-node-after (cluster_kill.cpp) ----------------------------------------------
void arm_kill(cluster_self self);
void kill_when_due(cluster_self self);
void kill_too_late(cluster_self self);

// -- --journal (cluster_journal.cpp) ---------------------------------------------------
bool journaled(cluster_self self);
void answer_note(cluster_self self, note_job* job);
void await_resumed(cluster_self self, std::vector<std::pair<uint64_t, task_id>>& resumed);
void cancel_stragglers(cluster_self self, task_id first_new);
void checkpoint_step_in_run(cluster_self self);
/// Closing: the last note, once any note in flight is answered; true when
/// nothing more is to be recorded.
bool last_checkpoint(cluster_self self);

// -- following the active scheduler, --connect (cluster_follow.cpp) --------------------
/// The scheduler may be lost (`why`, `reason`; a standby or a stepped-down
/// scheduler names the active): true when a search for the active one began
/// or is under way; false when the run does not follow (own scheduler, not
/// collecting, a reason that is no loss: a refusal, a clean exit), and the
/// caller goes on as before.
bool lose_scheduler(cluster_self self, const std::string& why, const caf::error& reason = {});
void on_found(cluster_self self, found_scheduler& f);
/// Subscribes to the current scheduler's results for our tasks.
void subscribe(cluster_self self);
/// Awaits our task `id` of the current scheduler; its result or failure is
/// taken as any other, unless the scheduler is lost meanwhile.
void await_owed(cluster_self self, task_id id);

// -- --serve (cluster_serve.cpp) -------------------------------------------------------
void start_serve(cluster_self self, serve_job* job);
void serve_result(cluster_self self, const task_result& r);
bool serve_look(cluster_self self, const std::optional<stats>& s);
void take_served(run_state& run, const stats& s);
void end_serve(cluster_self self);

// -- the end of a job (cluster_run.cpp) ------------------------------------------------
void close_run(cluster_self self);
void finish_job(cluster_self self);

} // namespace gasched::run
