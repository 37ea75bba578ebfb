#include "core/scheduler_core.hpp"

#include <algorithm>

#include "gasched/errc.hpp"

namespace gasched::detail {

journal::~journal() = default;

scheduler_core::scheduler_core(core_limits limits)
  : limits_(limits), nodes_(limits.max_workers, limits.prefetch) {
}

uint32_t scheduler_core::intern(const std::string& function) {
  auto [it, added] = function_index_.emplace(function,
                                             static_cast<uint32_t>(functions_.size()));
  if (added)
    functions_.push_back(function);
  return it->second;
}

bool scheduler_core::has_room(uint64_t n) const noexcept {
  return limits_.max_pending == 0 || pending_.size() + n <= limits_.max_pending;
}

caf::expected<task_id> scheduler_core::enqueue(const std::string& function,
                                               caf::message args, int32_t priority) {
  if (!has_room(1))
    return make_error(errc::queue_full, "max_pending is "
                                          + std::to_string(limits_.max_pending));
  auto id = next_id_++;
  if (journal_)
    journal_->enqueued(id, function, args, priority);
  pending_.push_back(id, priority, intern(function), std::move(args));
  return id;
}

scheduler_core::running_map::value_type&
scheduler_core::start(node_index node, queued_task&& t) {
  nodes_.started(node);
  auto epoch = epoch_base(generation_) + t.lease;
  auto [it, added] = running_.emplace(t.id, running_task{node, t.fn, epoch, t.node_failures,
                                                         t.priority, std::move(t.args)});
  static_cast<void>(added);
  if (journal_)
    journal_->dispatched(t.id, epoch, node);
  return *it;
}

ended_task scheduler_core::stop(running_map::iterator it) {
  auto& r = it->second;
  nodes_.stopped(r.node);
  ++count_.ticks;
  ended_task result{it->first, r.fn,    r.priority, std::move(r.args),
                    r.node,    r.epoch, true,       r.node_failures};
  running_.erase(it);
  return result;
}

std::optional<ended_task> scheduler_core::complete(task_id id, uint32_t epoch,
                                                   const caf::message& value,
                                                   const caf::error& error) {
  auto it = running_.find(id);
  if (it == running_.end() || it->second.epoch != epoch) {
    ++count_.late_results;
    return std::nullopt;
  }
  ++(error ? count_.failed : count_.succeeded);
  if (journal_)
    journal_->finished(id, error ? outcome_kind::failed : outcome_kind::succeeded,
                       it->second.node, value, error);
  return stop(it);
}

std::optional<ended_task> scheduler_core::complete(task_id id, uint32_t epoch, bool ok) {
  if (ok)
    return complete(id, epoch, caf::message{}, caf::error{});
  return complete(id, epoch, caf::message{},
                  make_error(errc::journal_error, "the task failed; why was not recorded"));
}

node_index scheduler_core::add_node(uint32_t slots) {
  return nodes_.add(slots);
}

std::vector<task_id> scheduler_core::running_ids() const {
  std::vector<task_id> ids;
  ids.reserve(running_.size());
  for (auto& [id, r] : running_)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<ended_task> scheduler_core::remove_node(node_index node) {
  // Node death is rare: a scan of the running tasks is fine here, and it keeps
  // dispatch and completion free of per-node bookkeeping.
  std::vector<task_id> lost;
  for (auto& [id, r] : running_)
    if (r.node == node)
      lost.push_back(id);
  // Requeue in id order: pushing the newest first leaves the oldest in front.
  std::sort(lost.begin(), lost.end(), std::greater<>{});
  std::vector<ended_task> quarantined;
  for (auto id : lost) {
    auto t = stop(running_.find(id));
    auto failures = t.node_failures + 1;
    if (limits_.max_node_failures != infinity && failures >= limits_.max_node_failures) {
      ++count_.quarantined;
      t.node_failures = failures;
      if (journal_)
        journal_->finished(id, outcome_kind::quarantined, node, {},
                           make_error(errc::node_failures,
                                      std::to_string(failures)
                                        + " nodes died while running it"));
      quarantined.push_back(std::move(t));
      continue;
    }
    ++count_.requeued;
    if (journal_)
      journal_->requeued(id, failures);
    auto lease = t.epoch - epoch_base(generation_) + 1;
    pending_.push_front(
      queued_task{id, t.priority, t.fn, failures, std::move(t.args), lease});
  }
  nodes_.remove(node);
  std::reverse(quarantined.begin(), quarantined.end());
  return quarantined;
}

void scheduler_core::set_max_workers(uint32_t n) {
  limits_.max_workers = n;
  nodes_.set_max_workers(n);
}

std::optional<ended_task> scheduler_core::cancel(task_id id) {
  if (auto it = running_.find(id); it != running_.end()) {
    ++count_.cancelled;
    if (journal_)
      journal_->finished(id, outcome_kind::cancelled, it->second.node, {},
                         make_error(errc::cancelled));
    return stop(it);
  }
  if (auto t = pending_.remove(id)) {
    ++count_.cancelled;
    if (journal_)
      journal_->finished(id, outcome_kind::cancelled, no_node, {},
                         make_error(errc::cancelled));
    return ended_task{id,      t->fn, t->priority, std::move(t->args),
                      no_node, 0,     false,       t->node_failures};
  }
  return std::nullopt;
}

caf::error scheduler_core::restore(journal_snapshot&& s) {
  if (next_id_ != 1 || !idle())
    return make_error(errc::invalid_argument,
                      "restore needs a scheduler core that has not accepted a task");
  for (auto& t : s.pending)
    if (t.fn >= s.functions.size())
      return make_error(errc::invalid_argument, "restore: task " + std::to_string(t.id)
                                                  + " has no function name");
  next_id_ = s.next_id;
  generation_ = s.generation;
  count_ = s.count;
  std::vector<uint32_t> fn;
  fn.reserve(s.functions.size());
  for (auto& name : s.functions)
    fn.push_back(intern(name));
  // Requeued tasks go in from the back of the order: each push_front goes
  // ahead of those before it. New tasks follow in order.
  for (auto t = s.pending.rbegin(); t != s.pending.rend(); ++t)
    if (t->front)
      pending_.push_front(
        queued_task{t->id, t->priority, fn[t->fn], t->node_failures, std::move(t->args)});
  for (auto& t : s.pending)
    if (!t.front)
      pending_.push_back(t.id, t.priority, fn[t.fn], std::move(t.args), t.node_failures);
  s.pending.clear();
  return caf::none;
}

} // namespace gasched::detail
