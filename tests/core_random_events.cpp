// The randomized test's events, each applied to the core and to the model,
// with what the core must answer.
#include "core_random_run.hpp"

#include <iterator>
#include <tuple>

namespace gasched::core_random {

void random_run::execute() {
  static const int32_t priorities[] = {-1, 0, 0, 0, 3, 7};
  auto prio = priorities[pick(0, 5)];
  last_ = "execute priority " + std::to_string(prio);
  auto id = next_id_;
  auto full = max_pending() != 0 && pending_count() >= max_pending();
  auto res = core_->enqueue(function_for(id), args_for(id), prio);
  if (full) {
    EXPECT(!res && is(res.error(), errc::queue_full), "queue_full at max_pending");
    return;
  }
  EXPECT(res && *res == id, "task ids grow by one");
  ++next_id_;
  results_.push_back(0);
  tasks_[id] = model_task{prio, epoch_base(generation_), no_node, 0};
  pending_[prio].push_back(id);
}

// The core's dispatch must take the model's next task to the model's node,
// and stop only when no task or no free slot is left.
void random_run::pump() {
  last_ = "dispatch";
  core_->dispatch([&](const dispatch_order& o) {
    EXPECT(!pending_.empty(), "dispatch of task " << o.id << " with nothing pending");
    auto node = least_loaded();
    EXPECT(node.has_value(), "dispatch of task " << o.id << " with no free slot");
    auto lvl = pending_.begin();
    auto id = lvl->second.front();
    EXPECT(o.id == id, "dispatch of task " << o.id << ", the next is " << id);
    EXPECT(o.node == *node, "task " << id << " to node " << o.node << ", not " << *node);
    auto& t = tasks_.at(id);
    EXPECT(o.epoch == t.epoch, "task " << id << " epoch " << o.epoch);
    EXPECT(core_->function_name(o.fn) == function_for(id), "task " << id << " function");
    EXPECT(args_match(id, o.args), "task " << id << " arguments");
    lvl->second.pop_front();
    if (lvl->second.empty())
      pending_.erase(lvl);
    t.node = *node;
    running_.insert(id);
    ++nodes_.at(*node).running;
  });
  EXPECT(pending_.empty() || !least_loaded(), "dispatch left a free slot unused");
}

void random_run::finish_random(bool ok) {
  if (running_.empty())
    return pump();
  auto it = running_.begin();
  std::advance(it, pick(0, static_cast<int>(running_.size()) - 1));
  finish(*it, ok);
}

void random_run::finish(task_id id, bool ok) {
  last_ = std::string(ok ? "success" : "failure") + " of task " + std::to_string(id);
  auto t = tasks_.at(id);
  auto res = core_->complete(id, t.epoch, ok);
  EXPECT(res, "the current lease of task " << id << " is accepted");
  EXPECT(res->id == id && res->was_running && res->node == t.node
           && res->epoch == t.epoch && res->priority == t.priority,
         "task " << id << ": ended_task fields");
  EXPECT(core_->function_name(res->fn) == function_for(id) && args_match(id, res->args),
         "task " << id << ": function and arguments");
  left_running(id);
  ++(ok ? succeeded_ : failed_);
  ended(id);
}

// Of an unfinished task mostly; else of any id, ended or never given out.
void random_run::cancel() {
  auto id = static_cast<task_id>(pick(0, static_cast<int>(next_id_) + 2));
  if (!tasks_.empty() && pick(0, 2) != 0) {
    auto it = tasks_.begin();
    std::advance(it, pick(0, static_cast<int>(tasks_.size()) - 1));
    id = it->first;
  }
  last_ = "cancel " + std::to_string(id);
  auto res = core_->cancel(id);
  auto found = tasks_.find(id);
  if (found == tasks_.end()) {
    EXPECT(!res, "cancel of unknown task " << id << " returns nothing");
    return;
  }
  auto t = found->second;
  EXPECT(res && res->id == id && res->priority == t.priority,
         "cancel of task " << id << " returns it");
  EXPECT(core_->function_name(res->fn) == function_for(id) && args_match(id, res->args),
         "task " << id << ": function and arguments");
  if (running_.count(id) > 0) {
    EXPECT(res->was_running && res->node == t.node && res->epoch == t.epoch,
           "cancel of running task " << id);
    left_running(id);
  } else {
    EXPECT(!res->was_running && res->node == no_node,
           "cancel of pending task " << id);
    auto& q = pending_.at(t.priority);
    q.erase(std::find(q.begin(), q.end(), id));
    if (q.empty())
      pending_.erase(t.priority);
  }
  ++cancelled_;
  ended(id);
}

// A result that must not count: a lease of a dead node, of a cancelled or
// finished task, a future epoch, or an id never given out.
void random_run::late_result() {
  task_id id;
  uint32_t epoch;
  auto kind = pick(0, 5);
  if (kind <= 3 && !stale_.empty()) {
    auto i = static_cast<size_t>(pick(0, static_cast<int>(stale_.size()) - 1));
    std::tie(id, epoch) = stale_[i];
  } else if (kind == 4 && !running_.empty()) {
    id = *running_.begin();
    epoch = tasks_.at(id).epoch + 1;
  } else {
    id = next_id_ + static_cast<task_id>(pick(0, 2));
    epoch = 0;
  }
  last_ = "late result of task " + std::to_string(id) + " epoch "
          + std::to_string(epoch);
  EXPECT(!core_->complete(id, epoch, pick(0, 1) == 0), "the result is late");
  ++late_results_;
}

void random_run::node_down() {
  if (nodes_.empty())
    return;
  auto it = nodes_.begin();
  std::advance(it, pick(0, static_cast<int>(nodes_.size()) - 1));
  auto n = it->first;
  last_ = "node " + std::to_string(n) + " down";
  std::vector<task_id> lost;  // ascending
  for (auto id : running_)
    if (tasks_.at(id).node == n)
      lost.push_back(id);
  auto quarantined = core_->remove_node(n);
  // Quarantined tasks come back in id order; the others go to the front of
  // their priority in id order, so push the newest first.
  size_t q = 0;
  for (auto id : lost) {
    auto t = tasks_.at(id);
    if (max_node_failures() == infinity || t.node_failures + 1 < max_node_failures())
      continue;
    EXPECT(q < quarantined.size() && quarantined[q].id == id,
           "task " << id << " is quarantined, in id order");
    EXPECT(quarantined[q].was_running && quarantined[q].node == n
             && quarantined[q].epoch == t.epoch
             && quarantined[q].node_failures == t.node_failures + 1,
           "quarantined task " << id << " fields");
    ++q;
  }
  EXPECT(q == quarantined.size(), quarantined.size() << " quarantined, not " << q);
  for (auto id = lost.rbegin(); id != lost.rend(); ++id) {
    left_running(*id);
    auto& t = tasks_.at(*id);
    t.node = no_node;
    if (max_node_failures() != infinity && t.node_failures + 1 >= max_node_failures()) {
      ++quarantined_;
      ended(*id);
      continue;
    }
    ++t.epoch;
    ++t.node_failures;
    ++requeued_;
    pending_[t.priority].push_front(*id);
  }
  nodes_.erase(n);
  dead_.insert(n);
}

void random_run::node_up() {
  if (nodes_.size() >= 6)
    return;
  auto slots = static_cast<uint32_t>(pick(0, 5));
  last_ = "node up, " + std::to_string(slots) + " slots";
  auto n = core_->add_node(slots);
  store_->name_node(n, "node-" + std::to_string(n));
  // A dead node's index is reused before a new one is taken.
  if (!dead_.empty()) {
    EXPECT(dead_.count(n) > 0, "node " << n << " reuses a dead index");
    dead_.erase(n);
  } else {
    EXPECT(n == index_count_, "node " << n << " is index " << index_count_);
    ++index_count_;
  }
  last_ += " (node " + std::to_string(n) + ")";
  auto& node = nodes_[n];
  node = model_node{slots, 0, 0};
  refresh_allowance(node);
}

void random_run::set_max_workers(uint32_t n) {
  last_ = "set_max_workers " + std::to_string(n);
  core_->set_max_workers(n);
  max_workers_ = n;
  for (auto& [i, node] : nodes_)
    refresh_allowance(node);
}

} // namespace gasched::core_random
