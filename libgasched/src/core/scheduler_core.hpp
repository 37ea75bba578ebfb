// The scheduler's decisions, with no actors in them: which task runs next,
// on which node, what a node's death does, what a late result means.
// The scheduler actor turns messages into calls on this class and sends what
// it asks for; tests drive it directly.
//
//   enqueue ──> [ pending ] ──dispatch: a node has a free slot──> [ running ]
//                   ^   ^                                          |  |  |
//                   |   └─ remove_node: back to the FRONT, in id ──┘  |  |
//                   |      order (quarantined after max_node_failures)|  |
//     cancel ───────┴──────────── cancel ─────────────────────────────┘  |
//                                       complete(lease) ─────────────────┘
//
// Every dispatch is a lease (task id, epoch): each dispatch of a task has its
// own epoch, also across restarts (journal.hpp says how), and a result counts
// only for the lease that is current, which gives exactly one result per task
// even when a node declared dead, or a run before a restart, delivers late.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>
#include <caf/message.hpp>

#include "core/counters.hpp"
#include "core/epoch.hpp"
#include "core/journal.hpp"
#include "core/node_table.hpp"
#include "core/pending_queue.hpp"
#include "gasched/stats.hpp"
#include "gasched/task.hpp"

namespace gasched::detail {

/// A task that left the scheduler, for the shell to build its task_result.
struct ended_task {
  task_id id = 0;
  uint32_t fn = 0;
  int32_t priority = 0;
  caf::message args;
  node_index node = no_node;  ///< where it was running; no_node if it ended pending
  uint32_t epoch = 0;         ///< its lease's epoch, when it was running
  bool was_running = false;
  /// Nodes that died while running it (for a quarantined task, the last too).
  uint32_t node_failures = 0;
};

/// A task to send: run `fn(args)` on `node` under lease (id, epoch).
struct dispatch_order {
  node_index node;
  task_id id;
  uint32_t epoch;
  uint32_t fn;
  const caf::message& args;
};

struct core_limits {
  uint32_t max_workers = 10;
  uint64_t max_pending = 0;  // 0: unbounded
  uint32_t max_node_failures = 3;
  /// Tasks per slot a node may hold beyond those it runs; adaptive_prefetch:
  /// as many as cover one observed round trip, at most max_prefetch.
  uint32_t prefetch = 0;
  uint32_t max_prefetch = 16;
};

/// What a node measured for one outcome (wire.hpp's run_outcome).
struct run_timing {
  uint32_t run_us = no_timing;   ///< in the function, retries included
  uint32_t wait_us = no_timing;  ///< held by the node before a thread took it
  static constexpr uint32_t no_timing = UINT32_MAX;
};

/// How long the tasks that ended with a result took (gasched::stats has
/// the same three): only those, so each count is succeeded + failed.
struct task_timings {
  duration_histogram queue_wait;  ///< accepted to the dispatch that gave the result
  duration_histogram run_time;    ///< the node's figure; else dispatch to result
  duration_histogram end_to_end;  ///< accepted to result
};

/// A lease taken back from a stalled node (scheduler_core::reclaim): the
/// node should be told to drop it; its result, if any, is late.
struct fenced_lease {
  node_index node;
  task_id id;
  uint32_t epoch;
};

struct reclaim_result {
  std::vector<fenced_lease> moved;  ///< now at the front of pending
  /// Some node holds tasks beyond its slots while another has a free slot:
  /// call reclaim again soon, a stall may be on its way.
  bool watch = false;
};

class scheduler_core {
public:
  explicit scheduler_core(core_limits limits);

  // -- tasks in ------------------------------------------------------------------

  /// Accepts a task into pending. Error errc::queue_full at max_pending.
  caf::expected<task_id> enqueue(const std::string& function, caf::message args,
                                 int32_t priority);

  /// Whether `n` more tasks fit under max_pending.
  bool has_room(uint64_t n) const noexcept;

  // -- dispatch ------------------------------------------------------------------

  /// Moves pending tasks to nodes with a free slot, highest priority and
  /// oldest first, each to the least loaded node; emit(const dispatch_order&)
  /// for each. Cost per task: O(log nodes).
  template <class Emit>
  void dispatch(Emit&& emit) {
    while (!pending_.empty()) {
      auto node = nodes_.least_loaded();
      if (!node)
        return;
      auto t = pending_.pop();
      // Adaptive: the least loaded node may still hold too much for this
      // function (then every node does, up to differences in round trip).
      if (adaptive() && nodes_.running(*node) >= hold_limit(*node, t.fn)) {
        pending_.push_front(std::move(t));
        return;
      }
      auto& r = start(*node, std::move(t));
      emit(dispatch_order{*node, r.first, r.second.epoch, r.second.fn, r.second.args});
    }
  }

  // -- results -------------------------------------------------------------------

  /// The run under lease (id, epoch), reported by node `from`, ended with
  /// `value`, or failed with `error`; `timing` is what the node measured (it
  /// feeds the adaptive prefetch). Returns the task when the lease is current
  /// and `from` holds it. A late result (its node was declared dead, the task
  /// cancelled, or the lease is from before a restart) is counted and gets
  /// nullopt; so does a report from another node, not counted as late: it is
  /// a peer's mistake or forgery, not a run that was overtaken. from ==
  /// no_node skips the holder check: the core's tests and benchmarks drive
  /// leases without nodes that report. The journal keeps the outcome.
  std::optional<ended_task> complete(task_id id, uint32_t epoch, node_index from,
                                     const caf::message& value, const caf::error& error,
                                     run_timing timing = {});

  /// The same when only success or failure is known, from no node in
  /// particular: a journal then keeps no value, and a generic error for a
  /// failure. Production always has the value (the call above); the
  /// randomized test and the benchmarks decide only ok or not.
  std::optional<ended_task> complete(task_id id, uint32_t epoch, bool ok);

  // -- nodes ---------------------------------------------------------------------

  /// A node that runs at most `slots` tasks (0: max_workers) takes work.
  node_index add_node(uint32_t slots);

  /// The node is gone. Its running tasks go back to the front of pending in
  /// id order, except those that have now lost max_node_failures nodes:
  /// these are returned, ended (errc::node_failures).
  std::vector<ended_task> remove_node(node_index node);

  /// Raising it lets dispatch() fill the new slots; lowering it never stops a
  /// running task, it only withholds new ones.
  void set_max_workers(uint32_t n);

  // -- cancel --------------------------------------------------------------------

  /// Takes a pending or running task out. A running task's node should be told
  /// (ended_task::node, epoch); its result will be late. Nullopt: unknown id.
  std::optional<ended_task> cancel(task_id id);

  // -- adaptive prefetch -----------------------------------------------------------

  bool adaptive() const noexcept {
    return limits_.prefetch == adaptive_prefetch;
  }

  /// How many tasks `n` may hold when the next one is of function `fn`:
  /// capacity + extra, extra covering one round trip of fn's observed run
  /// time on the slots that do not run long tasks, at most max_prefetch per slot.
  uint32_t hold_limit(node_index n, uint32_t fn) const noexcept;

  /// Takes back tasks held beyond its slots by a node that has delivered no
  /// result for much longer than its tasks and round trip take (a task
  /// turned out long), while another node has a free slot and nothing is
  /// pending. The newest held go first, to the front of pending; dispatch()
  /// then hands them to the free slots. Cost: O(nodes), only then.
  reclaim_result reclaim();

  /// Observed means, for tests and stats: run time of `fn`, round trip to
  /// `n`, in microseconds (negative: nothing observed yet).
  double run_estimate(uint32_t fn) const noexcept {
    return fn < run_us_.size() ? run_us_[fn] : -1.0;
  }
  double round_trip(node_index n) const noexcept {
    return n < timing_.size() ? timing_[n].rtt_us : -1.0;
  }

  /// Tasks taken back from stalled nodes so far.
  uint64_t reclaimed() const noexcept {
    return reclaimed_;
  }

  /// Timing of the tasks that ended with a result, by clock_fn.
  const task_timings& timings() const noexcept {
    return timings_;
  }

  /// Microseconds of a monotonic clock; tests set their own.
  using clock_fn = uint64_t (*)();
  void set_clock(clock_fn f) noexcept {
    clock_ = f;
  }

  // -- queries -------------------------------------------------------------------

  const std::string& function_name(uint32_t fn) const {
    return functions_[fn];
  }

  const node_table& nodes() const noexcept {
    return nodes_;
  }

  uint64_t pending() const noexcept {
    return pending_.size();
  }

  uint64_t running() const noexcept {
    return running_.size();
  }

  /// Whether the task is pending or running.
  bool unfinished(task_id id) const {
    return running_.count(id) > 0 || pending_.contains(id) || unadopted_.count(id) > 0;
  }

  bool idle() const noexcept {
    return pending_.empty() && running_.empty() && unadopted_.empty();
  }

  /// Visits pending tasks in dispatch order, then running tasks by id:
  /// f(task_id, const std::string& function, caf::message args, int32_t priority).
  template <class F>
  void for_each_unfinished(F&& f) const {
    pending_.for_each([&](task_id id, int32_t prio, uint32_t fn, caf::message args) {
      f(id, functions_[fn], std::move(args), prio);
    });
    for (auto id : running_ids()) {
      auto& r = running_.at(id);
      f(id, functions_[r.fn], r.args, r.priority);
    }
    for (auto& [id, w] : unadopted_)
      f(id, functions_[w.task.fn], w.task.args, w.task.priority);
  }

  /// Visits running tasks: f(task_id, node_index, uint32_t epoch).
  template <class F>
  void for_each_running(F&& f) const {
    for (auto& [id, r] : running_)
      f(id, r.node, r.epoch);
  }

  using counters = core_counters;

  const counters& count() const noexcept {
    return count_;
  }

  const core_limits& limits() const noexcept {
    return limits_;
  }

  void set_journal(journal* j) noexcept {
    journal_ = j;
  }

  // -- restart -------------------------------------------------------------------

  /// Takes over what a journal kept (durable_journal::open): ids, counters,
  /// the pending tasks in their order, and the generation of this run, so
  /// that no lease of an earlier run counts. Nothing of it is journaled again.
  /// Error invalid_argument unless the core is new (no task accepted yet).
  caf::error restore(journal_snapshot&& snapshot);

  // -- adoption after a restart or a takeover ---------------------------------------
  //
  // A task the journal shows dispatched to a node may still be running there:
  // the scheduler died, not the node. Restored, it waits for that node (by
  // name) to come back and claim it with the lease it holds; claimed, it runs
  // on under that lease and its result counts, so it is not started twice.
  // What no node claims goes to the front of pending after all.

  /// Node `n`, named `name`, holds these leases (task id, epoch) from before
  /// the restore. Those the journal vouches for run on `n` under their old
  /// lease; returns their ids. The journal vouches for a task waiting for a
  /// claim (restored running) when its node and epoch match what it kept,
  /// or, where it kept neither, for any lease of an earlier generation; and
  /// for a task still pending under a lease of an earlier generation (its
  /// dispatch left before the journal recorded it), unless the journal kept
  /// another node or lease for it (restored_task::node on a pending task). Every other task waiting
  /// for `name` goes to the front of pending: the node has come back without
  /// it. A lease refused here is the node's to cancel; its result is fenced
  /// and counted as late (count().late_results), never delivered.
  std::vector<task_id> adopt(node_index n, const std::string& name,
                             const std::vector<std::pair<task_id, uint32_t>>& held);
  /// Every task still waiting for its node goes to the front of pending (its
  /// node did not come back in time); returns how many.
  size_t release_unadopted();
  /// Tasks waiting for their node to claim them.
  uint64_t unadopted() const noexcept {
    return unadopted_.size();
  }
  /// Tasks adopted so far (this run).
  uint64_t adopted() const noexcept {
    return adopted_;
  }

  /// This run's generation (0 without a journal); see journal.hpp.
  uint32_t generation() const noexcept {
    return generation_;
  }

private:
  struct running_task {
    node_index node;
    uint32_t fn;
    uint32_t epoch;
    uint32_t node_failures;
    int32_t priority;
    caf::message args;
    uint64_t accepted_us = 0;    // clock_ at enqueue (or restore)
    uint64_t dispatched_us = 0;  // clock_ at dispatch
    uint32_t est_us = 0;         // its function's run estimate then
    bool long_task = false;      // nothing should be held behind it
  };

  // What the adaptive prefetch knows of a node.
  struct node_timing {
    double rtt_us = -1;           // mean round trip; negative: none seen
    uint64_t active_us = 0;       // its last result, or when it got work idle
    uint32_t long_held = 0;       // long tasks it holds
    uint64_t est_sum_us = 0;      // estimated run time of all it holds
    std::deque<task_id> order;    // dispatch order; finished ones pruned lazily
  };

  using running_map = std::unordered_map<task_id, running_task>;

  // A restored task waiting for its node to claim it.
  struct waiting_task {
    queued_task task;
    std::string node;
    uint32_t epoch;
  };
  // The node and lease a journal kept for a task it holds pending (a
  // resume put it back before any claim came): the only claim that counts.
  struct vouched_claim {
    std::string node;
    uint32_t epoch;
  };
  bool vouches(task_id id, const std::string& name, uint32_t epoch) const;
  void requeue_unadopted(std::vector<task_id> ids);
  void run_adopted(node_index n, uint32_t epoch, queued_task&& t);

  running_map::value_type& start(node_index node, queued_task&& t);
  ended_task stop(running_map::iterator it);
  uint32_t intern(const std::string& function);
  std::vector<task_id> running_ids() const;
  /// Tasks longer than this many round trips hold nothing (adaptive prefetch).
  static constexpr double long_task_round_trips = 50;
  bool is_long(node_index n, uint32_t fn) const noexcept;
  void observe(const running_task& r, run_timing t, uint64_t now);
  void time_result(const running_task& r, run_timing t, uint64_t now);
  bool stalled(node_index n, uint64_t now) const noexcept;
  std::optional<task_id> newest_held(node_index n);
  void take_back(task_id id, reclaim_result& out);
  void note_start(node_index n, task_id id, running_task& r);
  void note_stop(const running_task& r);

  core_limits limits_;
  pending_queue pending_;
  running_map running_;
  std::unordered_map<task_id, waiting_task> unadopted_;
  std::unordered_map<task_id, vouched_claim> vouched_;  // few: those of one resume
  node_table nodes_;
  std::vector<std::string> functions_;
  std::unordered_map<std::string, uint32_t> function_index_;
  task_id next_id_ = 1;
  task_id restored_next_id_ = 1;  // ids below: accepted by an earlier run
  uint32_t generation_ = 0;
  counters count_;
  journal* journal_ = nullptr;
  std::vector<double> run_us_;       // by function: mean run time; negative: unknown
  std::vector<node_timing> timing_;  // by node index
  uint64_t reclaimed_ = 0;
  uint64_t adopted_ = 0;
  task_timings timings_;
  clock_fn clock_;
};

} // namespace gasched::detail
