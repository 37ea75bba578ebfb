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

void pending_queue::push_back(task_id id, int32_t priority, uint32_t fn,
                              caf::message args, uint32_t node_failures,
                              uint64_t accepted_us) {
  auto& lvl = level_for(priority);
  auto& marks = lvl.marks;
  if (marks.empty()
      || (accepted_us >= marks.back().accepted_us
          && accepted_us - marks.back().accepted_us >= mark_interval_us))
    marks.push_back(mark{id, accepted_us});
  if (accepted_us < marks.back().accepted_us || id < marks.back().id || node_failures > 0)
    unusual_.emplace(id, unusual_task{accepted_us, node_failures});
  lvl.tasks.push_back(entry{static_cast<int64_t>(id), compact_args{std::move(args)}, fn,
                            static_cast<uint32_t>(accepted_us - marks.back().accepted_us)});
  ++lvl.live;
  ++size_;
}

void pending_queue::push_front(queued_task&& task) {
  auto seq = next_front_seq_--;
  auto& lvl = level_for(task.priority);
  lvl.tasks.push_front(entry{seq, compact_args{std::move(task.args)}, task.fn, 0});
  ++lvl.live;
  ++size_;
  requeued_seq_.emplace(task.id, seq);
  requeued_.emplace(seq,
                    requeued_task{task.id, task.accepted_us, task.node_failures, task.lease});
}

queued_task pending_queue::take(level& lvl, int32_t priority, const entry& x) {
  queued_task t{0, priority, x.fn, 0, x.args.to_message(), 0, 0};
  if (x.seq < 0) {
    auto found = requeued_.find(x.seq);
    auto& r = found->second;
    t.id = r.id;
    t.accepted_us = r.accepted_us;
    t.node_failures = r.node_failures;
    t.lease = r.lease;
    requeued_seq_.erase(r.id);
    requeued_.erase(found);
    return t;
  }
  t.id = static_cast<task_id>(x.seq);
  if (auto found = unusual_.find(t.id); found != unusual_.end()) {
    t.accepted_us = found->second.accepted_us;
    t.node_failures = found->second.node_failures;
    unusual_.erase(found);
    return t;
  }
  // The mark that was the level's newest when the task came: the last one
  // at or below its id.
  auto& marks = lvl.marks;
  auto m = std::upper_bound(marks.begin(), marks.end(), t.id,
                            [](task_id id, const mark& k) { return id < k.id; });
  t.accepted_us = std::prev(m)->accepted_us + x.accepted_offset_us;
  return t;
}

queued_task pending_queue::pop() {
  auto it = levels_.begin();
  auto& lvl = it->second;
  while (lvl.tasks.front().fn == tombstone)
    lvl.tasks.pop_front();
  auto result = take(lvl, it->first, lvl.tasks.front());
  lvl.tasks.pop_front();
  // Marks below the new front find no task any more.
  if (!lvl.tasks.empty() && lvl.tasks.front().seq >= 0)
    while (lvl.marks.size() > 1
           && lvl.marks[1].id <= static_cast<task_id>(lvl.tasks.front().seq))
      lvl.marks.pop_front();
  --lvl.live;
  --size_;
  drop_if_empty(it);
  return result;
}

int64_t pending_queue::seq_of(task_id id) const {
  auto found = requeued_seq_.find(id);
  return found != requeued_seq_.end() ? found->second : static_cast<int64_t>(id);
}

const pending_queue::entry* pending_queue::find_in(const level& lvl, int64_t seq) {
  auto pos = lvl.tasks.lower_bound(seq, [](const entry& x) { return x.seq; });
  if (pos == nullptr || pos->seq != seq || pos->fn == tombstone)
    return nullptr;
  return pos;
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
    auto result = take(it->second, it->first, *pos);
    pos->fn = tombstone;
    pos->args = compact_args{};
    --it->second.live;
    --size_;
    drop_if_empty(it);
    return result;
  }
  return std::nullopt;
}

} // namespace gasched::detail
