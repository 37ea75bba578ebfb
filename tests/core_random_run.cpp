// The randomized test's run: its setup, a step, the final drain, and the
// model's rules for placement and for a task that leaves its node.
#include "core_random_run.hpp"

#include <sstream>

namespace gasched::core_random {

random_run::random_run(uint64_t seed, caf::actor_system& sys, std::string path)
  : rng_(seed), sys_(sys), path_(std::move(path)) {
  auto limits = pick_limits();
  max_workers_ = limits.max_workers;
  results_.push_back(0);  // id 0
  open_core(limits);
  for (auto n = pick(0, 3); n > 0; --n)
    node_up();
}

void random_run::step(int event) {
  event_ = event;
  auto roll = pick(0, 104);
  if (roll < 24)
    execute();
  else if (roll < 44)
    pump();
  else if (roll < 64)
    finish_random(true);
  else if (roll < 72)
    finish_random(false);
  else if (roll < 79)
    cancel();
  else if (roll < 85)
    late_result();
  else if (roll < 90)
    node_down();
  else if (roll < 95)
    node_up();
  else if (roll < 100)
    set_max_workers(static_cast<uint32_t>(pick(0, 5)));
  else if (roll < 103)
    commit();
  else
    restart(pick(0, 1) == 0);
  check_all();
}

void random_run::drain() {
  event_ = events_per_run;  // reported as the event after the last
  if (max_workers_ == 0)
    set_max_workers(3);
  if (nodes_.empty())
    node_up();
  for (int round = 0; pending_count() + running_.size() > 0; ++round) {
    EXPECT(round < 100000, "drain does not end");
    pump();
    auto ids = std::vector<task_id>(running_.begin(), running_.end());
    for (auto id : ids)
      finish(id, pick(0, 3) != 0);
    check_all();
  }
  EXPECT(core_->idle(), "the core is idle after the drain");
  for (task_id id = 1; id < next_id_; ++id) {
    EXPECT(results_[id] == 1, "task " << id << " ended " << results_[id] << " times");
    EXPECT(journal_.of(id) == lifecycle_journal::done,
           "the journal saw task " << id << " finish");
  }
  auto& c = core_->count();
  EXPECT(c.succeeded + c.failed + c.cancelled + c.quarantined == next_id_ - 1,
         "every accepted task ended in one counter");
}

std::string random_run::where() const {
  std::ostringstream os;
  os << "event " << event_ << " (" << last_ << ")";
  return os.str();
}

core_limits random_run::pick_limits() {
  core_limits l;
  l.max_workers = static_cast<uint32_t>(pick(1, 4));
  static const uint64_t max_pending[] = {0, 0, 15, 40};
  l.max_pending = max_pending[pick(0, 3)];
  static const uint32_t max_node_failures[] = {1, 2, 3, infinity};
  l.max_node_failures = max_node_failures[pick(0, 3)];
  return l;
}

void random_run::refresh_allowance(model_node& n) {
  n.allowance = std::max(capacity(n), n.running);
}

size_t random_run::pending_count() const {
  size_t n = 0;
  for (auto& [prio, ids] : pending_)
    n += ids.size();
  return n;
}

// The node gascheduler's rule picks: fewest running relative to capacity,
// among nodes with a free slot; ties go to the lowest index.
std::optional<node_index> random_run::least_loaded() const {
  std::optional<node_index> best;
  for (auto& [i, n] : nodes_) {
    if (n.running >= capacity(n))
      continue;
    if (!best) {
      best = i;
      continue;
    }
    auto& b = nodes_.at(*best);
    if (uint64_t{n.running} * capacity(b) < uint64_t{b.running} * capacity(n))
      best = i;
  }
  return best;
}

void random_run::ended(task_id id) {
  EXPECT(results_[id] == 0, "task " << id << " ended a second time");
  ++results_[id];
  tasks_.erase(id);
}

// The task left running on its node (any way): its slot frees.
void random_run::left_running(task_id id) {
  auto& t = tasks_.at(id);
  auto& n = nodes_.at(t.node);
  --n.running;
  refresh_allowance(n);
  running_.erase(id);
  stale_.emplace_back(id, t.epoch);  // a result for this lease is late now
  ++ticks_;
}

} // namespace gasched::core_random
