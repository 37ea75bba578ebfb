// The changes of the tasks since the last commit, one entry per task: a task
// that comes, runs and ends between two commits is written once. Blobs go
// into one byte arena, so buffering a task allocates nothing of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/journal.hpp"

namespace gasched::detail {

enum class task_state : uint8_t { pending = 0, running = 1, finished = 2 };

/// Bytes in the arena; size 0: none (no blob is ever empty).
struct arena_ref {
  size_t at = 0;
  size_t size = 0;
};

/// A task's state as the next commit writes it.
struct task_change {
  task_id id = 0;
  task_state state = task_state::pending;
  bool is_new = false;    ///< not in the file yet: fn, priority and args are set
  bool requeued = false;  ///< seq and node_failures are set
  outcome_kind how = outcome_kind::succeeded;
  uint32_t fn = 0;
  int32_t priority = 0;
  uint32_t node_failures = 0;
  int64_t seq = 0;
  int64_t node = -1;  ///< the journal's number of the node it ended on; -1: none
  int64_t finished_at = 0;  ///< unix time in ms
  arena_ref args, value, error, error_text;
};

class change_buffer {
public:
  /// A task the journal has not seen: it enters pending.
  task_change& add(task_id id) {
    index_.emplace(id, changes_.size());
    auto& c = changes_.emplace_back();
    c.id = id;
    c.is_new = true;
    return c;
  }

  /// The change of `id`, begun now if it is the first since the last commit.
  task_change& touch(task_id id) {
    auto [it, added] = index_.emplace(id, changes_.size());
    if (!added)
      return changes_[it->second];
    auto& c = changes_.emplace_back();
    c.id = id;
    return c;
  }

  const task_change* find(task_id id) const {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &changes_[it->second];
  }

  std::vector<char>& arena() noexcept {
    return arena_;
  }

  const char* bytes(arena_ref r) const noexcept {
    return arena_.data() + r.at;
  }

  const std::vector<task_change>& changes() const noexcept {
    return changes_;
  }

  bool empty() const noexcept {
    return changes_.empty();
  }

  void clear() {
    changes_.clear();
    index_.clear();
    arena_.clear();
  }

private:
  std::vector<task_change> changes_;  // in the order of first change
  std::unordered_map<task_id, size_t> index_;
  std::vector<char> arena_;
};

} // namespace gasched::detail
