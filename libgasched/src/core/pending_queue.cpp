#include "core/pending_queue.hpp"

#include <algorithm>

namespace gasched::detail {

pending_queue::level& pending_queue::level_for(int32_t priority) {
  if (last_level_ == nullptr || last_priority_ != priority) {
    last_level_ = &levels_[priority];
    last_priority_ = priority;
  }
  return *last_level_;
}

void pending_queue::drop_if_empty(level_map::iterator it) {
  if (it->second.live > 0)
    return;
  if (last_level_ == &it->second)
    last_level_ = nullptr;
  levels_.erase(it);
}

namespace {

uint16_t saturate(uint32_t n) {
  return static_cast<uint16_t>(std::min<uint32_t>(n, UINT16_MAX));
}

} // namespace

void pending_queue::push_back(task_id id, int32_t priority, uint32_t fn,
                              caf::message args, uint32_t node_failures,
                              uint64_t accepted_us) {
  auto& lvl = level_for(priority);
  lvl.tasks.push_back(entry{static_cast<int64_t>(id), accepted_us, fn,
                            saturate(node_failures), 0, compact_args{std::move(args)}});
  ++lvl.live;
  ++size_;
}

void pending_queue::push_front(queued_task&& task) {
  auto seq = next_front_seq_--;
  auto& lvl = level_for(task.priority);
  lvl.tasks.push_front(entry{seq, task.accepted_us, task.fn, saturate(task.node_failures),
                             static_cast<uint16_t>(task.lease),
                             compact_args{std::move(task.args)}});
  ++lvl.live;
  ++size_;
  requeued_seq_.emplace(task.id, seq);
  requeued_id_.emplace(seq, task.id);
}

void pending_queue::forget_requeued(task_id id, int64_t seq) {
  requeued_seq_.erase(id);
  requeued_id_.erase(seq);
}

queued_task pending_queue::pop() {
  auto it = levels_.begin();
  auto& tasks = it->second.tasks;
  while (tasks.front().fn == tombstone)
    tasks.pop_front();
  auto& x = tasks.front();
  queued_task result{id_of(x), it->first, x.fn, x.node_failures, x.args.to_message(),
                     x.lease, x.accepted_us};
  if (x.seq < 0)
    forget_requeued(result.id, x.seq);
  tasks.pop_front();
  --it->second.live;
  --size_;
  drop_if_empty(it);
  return result;
}

int64_t pending_queue::seq_of(task_id id) const {
  auto found = requeued_seq_.find(id);
  return found != requeued_seq_.end() ? found->second : static_cast<int64_t>(id);
}

const pending_queue::entry* pending_queue::find_in(const level& lvl, int64_t seq) {
  auto pos = std::lower_bound(lvl.tasks.begin(), lvl.tasks.end(), seq,
                              [](const entry& x, int64_t s) { return x.seq < s; });
  if (pos == lvl.tasks.end() || pos->seq != seq || pos->fn == tombstone)
    return nullptr;
  return &*pos;
}

bool pending_queue::contains(task_id id) const {
  auto seq = seq_of(id);
  for (auto& lvl : levels_)
    if (find_in(lvl.second, seq) != nullptr)
      return true;
  return false;
}

std::optional<queued_task> pending_queue::remove(task_id id) {
  auto seq = seq_of(id);
  for (auto it = levels_.begin(); it != levels_.end(); ++it) {
    auto pos = const_cast<entry*>(find_in(it->second, seq));
    if (pos == nullptr)
      continue;
    queued_task result{id, it->first, pos->fn, pos->node_failures, pos->args.to_message(),
                       pos->lease, pos->accepted_us};
    pos->fn = tombstone;
    pos->args = compact_args{};
    if (seq < 0)
      forget_requeued(id, seq);
    --it->second.live;
    --size_;
    drop_if_empty(it);
    return result;
  }
  return std::nullopt;
}

} // namespace gasched::detail
