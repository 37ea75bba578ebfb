// The nodes of one scheduler, how many tasks each holds, and which one takes
// the next task: the least loaded relative to its limit, found in O(log n)
// by keeping every node below its limit in a set ordered by load.
// (gascheduler sorts all nodes and counts all running tasks per dispatch.)
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace gasched::detail {

using node_index = uint32_t;

/// "On no node": a task that ended while pending.
constexpr node_index no_node = UINT32_MAX;

class node_table {
public:
  explicit node_table(uint32_t max_workers, uint32_t prefetch = 0)
    : max_workers_(max_workers), prefetch_(prefetch) {
  }

  /// A node that runs at most `slots` tasks (0: as many as max_workers).
  /// Indices of removed nodes are reused.
  node_index add(uint32_t slots);

  void remove(node_index n);

  bool live(node_index n) const noexcept {
    return n < nodes_.size() && nodes_[n].live;
  }

  /// The node that should take the next task, if any has a free slot.
  std::optional<node_index> least_loaded() const noexcept {
    if (free_.empty())
      return std::nullopt;
    return free_.begin()->index;
  }

  /// One more / one less task running on `n`.
  void started(node_index n);
  void stopped(node_index n);

  /// Changes every node's capacity; running tasks are never stopped.
  void set_max_workers(uint32_t max_workers);

  uint32_t max_workers() const noexcept {
    return max_workers_;
  }

  uint32_t running(node_index n) const noexcept {
    return nodes_[n].running;
  }

  /// min(slots, max_workers), or max_workers when the node gave no slots:
  /// how many tasks the node runs at once.
  uint32_t capacity(node_index n) const noexcept;

  /// How many tasks the node may hold: capacity x (1 + prefetch).
  /// Placement is relative to this.
  uint32_t limit(node_index n) const noexcept {
    return capacity(n) * (1 + prefetch_);
  }

  /// Nodes that are up.
  size_t size() const noexcept {
    return live_count_;
  }

  /// Visits every live node: f(node_index).
  template <class F>
  void for_each(F&& f) const {
    for (node_index i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].live)
        f(i);
  }

private:
  struct node {
    bool live = false;
    uint32_t slots = 0;
    uint32_t running = 0;
  };

  // A node's place in free_: ordered by running / limit, then index.
  struct load {
    uint32_t running;
    uint32_t limit;  // how many it may hold (limit())
    node_index index;

    bool operator<(const load& other) const noexcept {
      auto lhs = uint64_t{running} * other.limit;
      auto rhs = uint64_t{other.running} * limit;
      return lhs != rhs ? lhs < rhs : index < other.index;
    }
  };

  load key(node_index n) const noexcept {
    return {nodes_[n].running, limit(n), n};
  }

  // Puts `n` into free_ when it has a free slot.
  void offer(node_index n);

  std::vector<node> nodes_;
  std::vector<node_index> unused_;
  std::set<load> free_;
  uint32_t max_workers_;
  uint32_t prefetch_;
  size_t live_count_ = 0;
};

} // namespace gasched::detail
