// What scheduler_core tells a journal, and what a journal hands back when a
// scheduler restarts: the seam between the core and the SQLite store
// (journal/durable_journal.hpp), free of SQLite and of actors. Epochs across
// restarts: core/epoch.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/message.hpp>

#include "core/counters.hpp"
#include "core/epoch.hpp"
#include "core/node_table.hpp"
#include "gasched/task.hpp"

namespace gasched::detail {

/// How a task left the scheduler.
enum class outcome_kind : uint8_t { succeeded, failed, cancelled, quarantined };

/// Records every change of a task's state, in order. All calls come from
/// scheduler_core; none may fail (a journal buffers and reports at commit).
class journal {
public:
  virtual ~journal();
  /// A task was accepted into pending (behind its priority).
  virtual void enqueued(task_id id, const std::string& function,
                        const caf::message& args, int32_t priority) = 0;
  /// A task went to `node` under lease (id, epoch).
  virtual void dispatched(task_id id, uint32_t epoch, node_index node) = 0;
  /// Its node died: the task is back at the front of its priority, and has
  /// now lost `node_failures` nodes.
  virtual void requeued(task_id id, uint32_t node_failures) = 0;
  /// The task ended: `node` is where it ran (no_node if it ended pending);
  /// `value` is the result when it succeeded, `error` why not otherwise.
  virtual void finished(task_id id, outcome_kind how, node_index node,
                        const caf::message& value, const caf::error& error) = 0;
};

/// An unfinished task as a journal kept it.
struct restored_task {
  task_id id = 0;
  uint32_t fn = 0;  ///< index into journal_snapshot::functions
  int32_t priority = 0;
  uint32_t node_failures = 0;
  bool front = false;  ///< requeued: ahead of the new tasks of its priority
  caf::message args;
  /// Where (the node's name) and under which lease epoch it was last
  /// dispatched, when the journal recorded it and no requeue undid it: also
  /// for a task a resume put back to pending before any node claimed it
  /// (running false: it keeps its place in pending, and while it is there
  /// only that claim adopts it).
  std::string node;
  uint32_t epoch = 0;
  /// Dispatched and not ended when the journal was last written. Such a task
  /// waits for the node that runs it to claim it (scheduler_core::adopt)
  /// rather than run a second time; only that node, under that epoch, may.
  /// With node empty and epoch 0 (a journal of an older format) any node
  /// may claim it under a lease of an earlier generation.
  bool running = false;
};

/// What a restarted scheduler resumes from (scheduler_core::restore).
struct journal_snapshot {
  uint32_t generation = 0;  ///< this run's; its epochs start at epoch_base()
  task_id next_id = 1;      ///< the id the next accepted task gets
  core_counters count;
  std::vector<std::string> functions;
  /// Every unfinished task, pending, in dispatch order: the tasks that were
  /// running when the scheduler stopped are at the front, as after a node's
  /// death (counted in requeued and ticks, but not as a node failure); those
  /// wait for adoption first (restored_task::running).
  std::vector<restored_task> pending;
};

} // namespace gasched::detail
