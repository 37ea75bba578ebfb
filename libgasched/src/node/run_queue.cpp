#include "node/run_queue.hpp"

#include <algorithm>

namespace gasched::detail {

namespace {

bool blocks(const task_job& job) {
  return job.fn == nullptr || job.fn->mode == call_mode::blocking;
}

} // namespace

run_queue::lane& run_queue::lane_for(const caf::actor_addr& scheduler) {
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      return l;
  lanes_.push_back(lane{scheduler, {}, 0, 0});
  return lanes_.back();
}

run_queue::lane* run_queue::next_lane() noexcept {
  for (size_t i = 0; i < lanes_.size(); ++i) {
    auto& l = lanes_[(next_lane_ + i) % lanes_.size()];
    if (l.runnable() > 0) {
      next_lane_ = (next_lane_ + i + 1) % lanes_.size();
      return &l;
    }
  }
  return nullptr;
}

size_t run_queue::runnable() const noexcept {
  size_t n = 0;
  for (auto& l : lanes_)
    n += l.runnable();
  return n;
}

void run_queue::release(const job_ptr& job) {
  busy_.fetch_sub(1, std::memory_order_relaxed);
  auto addr = job->scheduler.address();
  for (auto i = lanes_.begin(); i != lanes_.end(); ++i)
    if (i->scheduler == addr) {
      if (--i->running == 0 && i->jobs.empty())
        lanes_.erase(i);  // a scheduler's lane lives while it has work here
      return;
    }
}

void run_queue::push(const caf::actor_addr& scheduler, uint32_t limit,
                     std::vector<job_ptr>&& jobs) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopped_ || jobs.empty())
    return;
  auto& l = lane_for(scheduler);
  l.limit = limit;
  for (auto& job : jobs) {
    job->received = now;
    blocking_ += blocks(*job) ? 1 : 0;
    l.jobs.push_back(taken{std::move(job), caf::timespan{0}});
  }
  queued_.fetch_add(jobs.size(), std::memory_order_relaxed);
}

void run_queue::push_front(job_ptr job, caf::timespan pause) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopped_)
    return;
  auto& l = lane_for(job->scheduler.address());
  blocking_ += blocks(*job) ? 1 : 0;
  l.jobs.push_front(taken{std::move(job), pause});
  queued_.fetch_add(1, std::memory_order_relaxed);
}

run_queue::wake_plan run_queue::plan(size_t max_slots) {
  wake_plan result;
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopped_)
    return result;
  auto non_blocking = queued_.load(std::memory_order_relaxed) - blocking_;
  auto wanted = std::min(runnable(), blocking_ + (non_blocking + max_in_a_row - 1) / max_in_a_row);
  if (wanted <= woken_)
    return result;
  wanted -= woken_;
  for (size_t i = 0; i < slots_.size() && wanted > 0; ++i)
    if (slots_[i].state == slot_state::idle) {
      slots_[i].state = slot_state::woken;
      ++woken_;
      result.wake.push_back(i);
      result.pokes.push_back(slots_[i].poke);
      --wanted;
    }
  result.first_new = slots_.size();
  while (wanted > 0 && slots_.size() < max_slots) {
    slots_.emplace_back();  // woken: its worker looks for work when it starts
    ++woken_;
    result.wake.push_back(slots_.size() - 1);
    result.pokes.emplace_back();
    ++result.spawn;
    --wanted;
  }
  return result;
}

std::optional<run_queue::taken> run_queue::next_locked(size_t index, uint64_t gen,
                                                        bool posted) {
  if (index >= slots_.size())
    return std::nullopt;
  auto& s = slots_[index];
  if (s.gen != gen)
    return std::nullopt;  // a dead worker's thread
  if (s.job) {
    release(s.job);
    if (!posted)
      s.done.push_back(std::move(s.job));
    s.job = nullptr;
  }
  if (s.state == slot_state::woken)
    --woken_;
  while (!stopped_) {
    auto l = next_lane();
    if (l == nullptr)
      break;
    auto t = std::move(l->jobs.front());
    l->jobs.pop_front();
    queued_.fetch_sub(1, std::memory_order_relaxed);
    blocking_ -= blocks(*t.job) ? 1 : 0;
    if (t.job->cancelled) {
      if (l->running == 0 && l->jobs.empty())
        lanes_.erase(lanes_.begin() + (l - lanes_.data()));
      continue;
    }
    ++l->running;
    busy_.fetch_add(1, std::memory_order_relaxed);
    s.job = t.job;
    s.state = slot_state::busy;
    return t;
  }
  s.state = slot_state::idle;
  return std::nullopt;
}

void run_queue::posted(size_t index) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (index < slots_.size())
    slots_[index].done.clear();
}

std::vector<job_ptr> run_queue::worker_died(size_t index) {
  std::vector<job_ptr> result;
  std::lock_guard<std::mutex> guard{mtx_};
  if (index >= slots_.size())
    return result;
  auto& s = slots_[index];
  ++s.gen;
  s.poke = nullptr;
  if (s.job) {
    release(s.job);
    result.push_back(std::move(s.job));
    s.job = nullptr;
  }
  for (auto& job : s.done)
    result.push_back(std::move(job));
  s.done.clear();
  // Told while the lock is held: a thread of the dead worker that finishes
  // the call checks, under this lock, that its job is not cancelled.
  for (auto& job : result)
    job->cancel();
  if (s.state != slot_state::woken)
    ++woken_;
  s.state = slot_state::woken;
  return result;
}

void run_queue::set_poke(size_t index, uint64_t gen, std::function<bool()> poke) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (index < slots_.size() && slots_[index].gen == gen)
    slots_[index].poke = std::move(poke);
}

uint64_t run_queue::generation(size_t index) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return index < slots_.size() ? slots_[index].gen : 0;
}

void run_queue::cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      for (auto& t : l.jobs)
        if (t.job->id == id && t.job->epoch == epoch)
          t.job->cancel();
  for (auto& s : slots_)
    if (s.job && s.job->id == id && s.job->epoch == epoch
        && s.job->scheduler.address() == scheduler)
      s.job->cancel();
}

void run_queue::cancel_all(const caf::actor_addr& scheduler) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      for (auto& t : l.jobs)
        t.job->cancel();
  for (auto& s : slots_)
    if (s.job && s.job->scheduler.address() == scheduler)
      s.job->cancel();
}

void run_queue::stop() {
  std::lock_guard<std::mutex> guard{mtx_};
  stopped_ = true;
  for (auto& l : lanes_)
    for (auto& t : l.jobs)
      t.job->cancel();
  lanes_.clear();
  queued_ = 0;
  blocking_ = 0;
  for (auto& s : slots_) {
    if (s.job)
      s.job->cancel();
    for (auto& job : s.done)
      job->cancel();
  }
}

std::vector<run_queue::held_lease> run_queue::leases() const {
  std::vector<held_lease> result;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& l : lanes_)
    for (auto& t : l.jobs)
      if (!t.job->cancelled)
        result.push_back(held_lease{l.scheduler, t.job->id, t.job->epoch});
  auto add = [&](const job_ptr& job) {
    if (job && !job->cancelled)
      result.push_back(held_lease{job->scheduler.address(), job->id, job->epoch});
  };
  for (auto& s : slots_) {
    add(s.job);
    for (auto& job : s.done)
      add(job);
  }
  return result;
}

size_t run_queue::held(const caf::actor_addr& scheduler) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      return l.jobs.size() + l.running;
  return 0;
}

} // namespace gasched::detail
