#include "core/node_table.hpp"

#include <algorithm>

namespace gasched::detail {

uint32_t node_table::capacity(node_index n) const noexcept {
  auto slots = nodes_[n].slots;
  return slots == 0 ? max_workers_ : std::min(slots, max_workers_);
}

void node_table::offer(node_index n) {
  if (nodes_[n].running < limit(n))
    free_.insert(key(n));
}

node_index node_table::add(uint32_t slots) {
  node_index n;
  if (!unused_.empty()) {
    n = unused_.back();
    unused_.pop_back();
  } else {
    n = static_cast<node_index>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[n] = node{true, slots, 0};
  ++live_count_;
  offer(n);
  return n;
}

void node_table::remove(node_index n) {
  free_.erase(key(n));
  nodes_[n] = node{};
  unused_.push_back(n);
  --live_count_;
}

void node_table::started(node_index n) {
  free_.erase(key(n));
  ++nodes_[n].running;
  offer(n);
}

void node_table::stopped(node_index n) {
  free_.erase(key(n));
  --nodes_[n].running;
  offer(n);
}

void node_table::set_max_workers(uint32_t max_workers) {
  max_workers_ = max_workers;
  free_.clear();
  for (node_index n = 0; n < nodes_.size(); ++n)
    if (nodes_[n].live)
      offer(n);
}

} // namespace gasched::detail
