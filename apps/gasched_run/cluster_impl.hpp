// cluster's insides, shared by cluster.cpp (setting up and tearing down),
// cluster_loop.cpp (the run and serve loops) and cluster_watch.cpp (what
// the loops look at between results: nodes, supervision, a kill).
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "gasched/gasched.hpp"
#include "gasched/http.hpp"
#include "gasched_run/cluster.hpp"
#include "gasched_run/local_nodes.hpp"
#include "gasched_run/no_nodes_watch.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/supervisor.hpp"

namespace gasched::run {

using clock = std::chrono::steady_clock;

// Between the forwarder, the reader thread and the main thread; never
// leave this process.
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using result_atom = caf::atom_constant<caf::atom("result")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;

/// --journal: awaits an earlier run's tasks and stores notes for the run
/// loop, answering it with messages tagged by the request's atom, so that
/// the loop never blocks on them (cluster_journal.cpp).
caf::behavior journal_agent(caf::event_based_actor* self, gasched::scheduler_actor sched,
                            caf::actor loop);

struct cluster::impl {
  const options& opts;
  progress& display;
  stop_signals& signals;
  local_nodes nodes;
  bool launched = false;
  supervisor supervision{nodes,
                         restart_policy{opts.max_restarts,
                                        std::chrono::seconds(opts.restart_window)},
                         display};
  std::vector<std::string> hand_over;  // restarted nodes the scheduler must be handed again
  int64_t started_unix_ms = unix_ms_now();

  std::optional<caf::actor_system_config> cfg;
  std::optional<caf::actor_system> sys;
  std::optional<caf::scoped_actor> self;
  // Signals (a stop request, a local node's death) wake the loops with a
  // wake_atom; after `self`, so that it is gone before the actor system.
  stop_signals::subscription woken;
  gasched::scheduler_actor sched;      // ours or remote
  caf::actor forwarder;  // with --connect
  caf::actor agent;      // with --journal (cluster_journal.cpp)
  bool own_scheduler = false;
  std::string join_address;  // what nodes pass to --join, when listening
  std::optional<http_server> http;  // --http; declared after sys: destroyed before it
  bool stopped = false;

  // what the ticks watch
  std::set<std::string> nodes_seen;
  clock::time_point last_waiting_notice{};

  impl(const options& o, progress& d, stop_signals& s) : opts(o), display(d), signals(s) {
  }

  // -- setup and the end (cluster.cpp) -------------------------------------------
  void launch_nodes(const std::string& data_dir);
  void show_node_logs(bool all);
  void start_actor_system();
  void start();
  void connect_nodes_and_spawn();
  void publish_scheduler();
  void serve_dashboard();
  void shutdown();

  // -- between results (cluster_watch.cpp) ---------------------------------------
  std::optional<stats> ask_stats();
  void watch_nodes(const stats& s);
  void supervise(run_report& rep);
  void hand_over_restarted();
  std::string join_hint() const;
  std::optional<stats> look_around(run_report& rep);
  void kill_one(run_report& rep, uint64_t done);
  void take_counts(run_report& rep, const stats& s);

  // -- when the loops look around (cluster_loop.cpp) ------------------------------
  // A look (a stats request, supervision, the display) comes every tick
  // while something happens, and none at all while the cluster is idle,
  // except one every 2 s when what others do sends us no message
  // (idle_looks()), or when a plain progress line still owes a change.
  // Messages (results, the feed's wake-up, signals, SIGCHLD) wake the loop
  // without any timer.
  clock::duration tick_every() const;
  bool idle_looks() const;
  std::optional<clock::time_point> next_look(bool busy, clock::time_point now) const;

  // -- the loops (cluster_loop.cpp) ----------------------------------------------
  // One run's bookkeeping, shared by the loop's pieces: keys of the tasks
  // in flight only, so that memory does not grow with the run.
  struct run_state {
    run_report rep;
    const result_handler* on_result = nullptr;
    std::unordered_map<task_id, uint64_t> key_of;  // our scheduler's ids
    std::deque<std::vector<uint64_t>> unanswered;  // keys of batches sent, ids not yet back
    uint64_t done = 0;
    uint64_t done_when_idle = 0;  // results the feed heard of at its last idle()
    std::optional<progress_counts> last_look;  // what the last look saw
    bool fed = false;  // the feed ended and all of it was submitted
    bool changed = false;  // the scheduler said nodes or other clients changed it
    bool kill_due = false;
    bool kill_noticed = false;
    // --journal (cluster_journal.cpp)
    bool checkpoint_wanted = false;  // no more submissions until the ids are back
    bool note_in_flight = false;
    bool sched_down = false;
    task_id max_id = 0;
    std::optional<task_id> cancel_after;  // an earlier run's ids after it, up to ours
  };

  // -- --journal (cluster_journal.cpp) -------------------------------------------
  bool journaled() const noexcept {
    return agent != nullptr;
  }
  std::string read_note(const std::string& key);
  void write_note(const std::string& key, const std::string& value);
  void await_resumed(run_state& st, std::vector<std::pair<uint64_t, task_id>>& resumed);
  void cancel_stragglers(run_state& st, task_id first_new);
  void journal_step(run_state& st, task_feed& feed);
  void note_answered(run_state& st, task_feed& feed, const std::string& error);
  void last_checkpoint(run_state& st, task_feed& feed);

  progress_counts counts(const run_state& st, const std::optional<stats>& s,
                         task_feed* feed);
  void submit(run_state& st, std::vector<std::pair<uint64_t, task>>& batch);
  void feed_some(run_state& st, task_feed& feed);
  void take_ids(run_state& st, const std::vector<task_id>& ids);
  void record(run_state& st, uint64_t key, const task_result& r);
  void take_result(run_state& st, task_id id, const task_result& r);
  // Waits up to `wait` (nullopt: until a message comes) and handles what came.
  void receive_for(run_state& st, std::optional<clock::duration> wait, task_feed& feed);
  // One look; whether something is going on (tasks not done, or a change).
  bool tick(run_state& st, no_nodes_watch& watch, task_feed& feed);
  run_report run(task_feed& feed, const result_handler& on_result,
                 std::vector<std::pair<uint64_t, task_id>> resumed,
                 std::optional<task_id> known_ids);
  // The run's last figures: its time, last checkpoint, counts, restarts.
  run_report end_run(run_state& st, task_feed& feed, clock::time_point started);
  bool serve_tick(run_report& rep, no_nodes_watch& watch,
                  std::optional<progress_counts>& last_look);
  void count_left(run_report& rep);
  run_report serve();
};

} // namespace gasched::run
