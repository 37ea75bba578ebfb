// The tasks waiting for a slot: highest priority first, oldest first within a
// priority, and tasks requeued from a dead node ahead of their priority.
//
// Each priority has one deque kept sorted by `seq`: a new task's seq is its id
// (ids grow), a requeued task's seq counts down from -1 (below every id), so
// push_back and push_front both keep the order, and a task is found by binary
// search. Cancelled tasks stay in place as tombstones until they reach the front.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

#include <caf/message.hpp>

#include "core/compact_args.hpp"
#include "gasched/task.hpp"

namespace gasched::detail {

/// A task as it leaves the queue.
struct queued_task {
  task_id id = 0;
  int32_t priority = 0;
  uint32_t fn = 0;             ///< index of its function name
  uint32_t node_failures = 0;  ///< times a node died while running it
  caf::message args;
  /// Dispatches lost to dead nodes in this generation: epoch = base + lease.
  uint32_t lease = 0;
  uint64_t accepted_us = 0;  ///< when the scheduler accepted it (its clock)
};

class pending_queue {
public:
  /// A new task: it goes behind every task of its priority.
  void push_back(task_id id, int32_t priority, uint32_t fn, caf::message args,
                 uint32_t node_failures = 0, uint64_t accepted_us = 0);

  /// A requeued task: it goes ahead of every task of its priority.
  void push_front(queued_task&& task);

  /// Takes the next task. Precondition: !empty().
  queued_task pop();

  /// Takes the task with this id out of the queue, wherever it is:
  /// O(priorities x log n). Nullopt when it is not pending.
  std::optional<queued_task> remove(task_id id);

  /// Whether the task with this id is pending: O(priorities x log n).
  bool contains(task_id id) const;

  bool empty() const noexcept {
    return size_ == 0;
  }

  size_t size() const noexcept {
    return size_;
  }

  /// Visits every pending task in the order pop() would take them:
  /// f(task_id, int32_t priority, uint32_t fn, caf::message args).
  template <class F>
  void for_each(F&& f) const {
    for (auto& [priority, lvl] : levels_)
      for (auto& x : lvl.tasks)
        if (x.fn != tombstone)
          f(id_of(x), priority, x.fn, x.args.to_message());
  }

private:
  static constexpr uint32_t tombstone = UINT32_MAX;

  // 40 bytes: the two counts share what one took. node_failures saturates
  // (no one sets max_node_failures near 65,535); lease wraps (journal.hpp).
  // A new task's id is its seq; only requeued ones (seq < 0) need a lookup,
  // which leaves room for the accepted time at no cost per task.
  struct entry {
    int64_t seq;
    uint64_t accepted_us;
    uint32_t fn;
    uint16_t node_failures;
    uint16_t lease;
    compact_args args;
  };
  static_assert(sizeof(entry) == 40, "a pending task's entry must stay 40 bytes");

  task_id id_of(const entry& x) const {
    return x.seq >= 0 ? static_cast<task_id>(x.seq) : requeued_id_.at(x.seq);
  }

  struct level {
    std::deque<entry> tasks;  // ascending seq
    size_t live = 0;          // entries that are not tombstones
  };

  using level_map = std::map<int32_t, level, std::greater<>>;

  level& level_for(int32_t priority);
  int64_t seq_of(task_id id) const;
  // The live entry of `id` within `lvl`, or nullptr.
  static const entry* find_in(const level& lvl, int64_t seq);
  void drop_if_empty(level_map::iterator it);
  void forget_requeued(task_id id, int64_t seq);

  level_map levels_;
  // The level of the last push_back: most users only ever use priority 0.
  level* last_level_ = nullptr;
  int32_t last_priority_ = 0;
  int64_t next_front_seq_ = -1;
  std::unordered_map<task_id, int64_t> requeued_seq_;  // seq of requeued tasks
  std::unordered_map<int64_t, task_id> requeued_id_;   // and back
  size_t size_ = 0;
};

} // namespace gasched::detail
