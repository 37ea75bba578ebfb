// The tasks waiting for a slot: highest priority first, oldest first within a
// priority, and tasks requeued from a dead node ahead of their priority.
//
// Each priority has one segmented_queue kept sorted by `seq`: a new task's seq is its id
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
#include "core/segmented_queue.hpp"
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
      lvl.tasks.for_each([&, p = priority](const entry& x) {
        if (x.fn != tombstone)
          f(x.seq >= 0 ? static_cast<task_id>(x.seq) : requeued_.at(x.seq).id, p, x.fn,
            x.args.to_message());
      });
  }

private:
  static constexpr uint32_t tombstone = UINT32_MAX;

  // 32 bytes. What only requeued tasks carry (their id, node failures, lease)
  // lives beside the queue, in `requeued_`; a new task's id is its seq, and
  // its accepted time is an offset from its level's last mark at or below
  // its id (below).
  struct entry {
    int64_t seq;
    compact_args args;
    uint32_t fn;
    uint32_t accepted_offset_us;
  };
  static_assert(sizeof(entry) == 32, "a pending task's entry must stay 32 bytes");

  // A level takes a mark (an id and its full accepted time) when its newest
  // mark is an hour old, so a new task's offset from it fits 32 bits (71
  // minutes). A busy scheduler holds one mark per level and hour.
  static constexpr uint64_t mark_interval_us = 3'600'000'000;

  struct mark {
    task_id id;
    uint64_t accepted_us;
  };

  // A requeued task's own fields (seq < 0 in its entry).
  struct requeued_task {
    task_id id;
    uint64_t accepted_us;
    uint32_t node_failures;
    uint32_t lease;
  };

  // A new task whose fields the entry and the marks cannot give: restored
  // with node failures, or accepted on a clock that went back.
  struct unusual_task {
    uint64_t accepted_us;
    uint32_t node_failures;
  };

  struct level {
    segmented_queue<entry> tasks;  // ascending seq
    size_t live = 0;          // entries that are not tombstones
    std::deque<mark> marks;   // ascending id and time; the first at or below the front
  };

  using level_map = std::map<int32_t, level, std::greater<>>;

  level& level_for(int32_t priority);
  int64_t seq_of(task_id id) const;
  // The live entry of `seq` within `lvl`, or nullptr.
  static const entry* find_in(const level& lvl, int64_t seq);
  void drop_if_empty(level_map::iterator it);
  // The task of `x` as it leaves the queue; forgets what it kept beside it.
  queued_task take(level& lvl, int32_t priority, const entry& x);

  level_map levels_;
  // The level of the last push_back: most users only ever use priority 0.
  level* last_level_ = nullptr;
  int32_t last_priority_ = 0;
  int64_t next_front_seq_ = -1;
  std::unordered_map<task_id, int64_t> requeued_seq_;          // seq of requeued tasks
  std::unordered_map<int64_t, requeued_task> requeued_;        // and their fields, by seq
  std::unordered_map<task_id, unusual_task> unusual_;
  size_t size_ = 0;
};

} // namespace gasched::detail
