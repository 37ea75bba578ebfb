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
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>
#include <caf/message.hpp>

#include "core/journal.hpp"
#include "core/node_table.hpp"
#include "core/pending_queue.hpp"
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
  uint32_t prefetch = 0;     // tasks per slot a node may hold beyond those it runs
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
      auto& r = start(*node, pending_.pop());
      emit(dispatch_order{*node, r.first, r.second.epoch, r.second.fn, r.second.args});
    }
  }

  // -- results -------------------------------------------------------------------

  /// The run under lease (id, epoch) ended with `value`, or failed with
  /// `error`. Returns the task when the lease is current; otherwise the result
  /// is late (its node was declared dead, the task cancelled, or the lease is
  /// from before a restart): nullopt, counted. The journal keeps the outcome.
  std::optional<ended_task> complete(task_id id, uint32_t epoch, const caf::message& value,
                                     const caf::error& error);

  /// The same, when only success or failure is known: a journal then keeps
  /// no value, and a generic error for a failure.
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
    return running_.count(id) > 0 || pending_.contains(id);
  }

  bool idle() const noexcept {
    return pending_.empty() && running_.empty();
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

  /// Takes over what a journal kept (sqlite_journal::open): ids, counters,
  /// the pending tasks in their order, and the generation of this run, so
  /// that no lease of an earlier run counts. Nothing of it is journaled again.
  /// Error invalid_argument unless the core is new (no task accepted yet).
  caf::error restore(journal_snapshot&& snapshot);

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
  };

  using running_map = std::unordered_map<task_id, running_task>;

  running_map::value_type& start(node_index node, queued_task&& t);
  ended_task stop(running_map::iterator it);
  uint32_t intern(const std::string& function);
  std::vector<task_id> running_ids() const;

  core_limits limits_;
  pending_queue pending_;
  running_map running_;
  node_table nodes_;
  std::vector<std::string> functions_;
  std::unordered_map<std::string, uint32_t> function_index_;
  task_id next_id_ = 1;
  uint32_t generation_ = 0;
  counters count_;
  journal* journal_ = nullptr;
};

} // namespace gasched::detail
