#include "node/task_pool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include <caf/send.hpp>

#include "logging.hpp"
#include "node/attempts.hpp"

namespace gasched::detail {

namespace {

// Saturates below UINT32_MAX, which means "not measured" (about 71 minutes).
uint32_t micros(std::chrono::steady_clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX - 1));
}

} // namespace

task_pool::task_pool(std::string node_name, std::shared_ptr<const registry> reg,
                     uint32_t max_threads, caf::actor_addr node)
  : node_name_(std::move(node_name)), registry_(std::move(reg)),
    max_threads_(max_threads), outbox_(std::move(node)) {
}

size_t task_pool::threads() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return workers_.size();
}

size_t task_pool::held(const caf::actor_addr& scheduler) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      return l.jobs.size() + l.running;
  return 0;
}

std::vector<task_pool::held_lease> task_pool::leases() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<held_lease> result;
  for (auto& l : lanes_)
    for (auto& job : l.jobs)
      if (!job.cancelled)
        result.push_back(held_lease{l.scheduler, job.id, job.epoch});
  for (auto& w : workers_)
    if (w->busy && !w->cancel)
      result.push_back(held_lease{w->scheduler, w->id, w->epoch});
  return result;
}

size_t task_pool::runnable() const noexcept {
  size_t n = 0;
  for (auto& l : lanes_)
    n += l.runnable();
  return n;
}

task_pool::lane* task_pool::next_lane() noexcept {
  for (size_t i = 0; i < lanes_.size(); ++i) {
    auto& l = lanes_[(next_lane_ + i) % lanes_.size()];
    if (l.runnable() > 0) {
      next_lane_ = (next_lane_ + i + 1) % lanes_.size();
      return &l;
    }
  }
  return nullptr;
}

void task_pool::start_threads() {
  auto wanted = runnable();
  while (idle_ < wanted && (max_threads_ == 0 || workers_.size() < max_threads_)) {
    workers_.push_back(std::make_unique<worker>());
    ++idle_;  // counted idle until it takes a job
    std::thread{[self = shared_from_this(), w = workers_.back().get()] {
      self->work(w);
    }}.detach();
  }
}

void task_pool::submit(const scheduler_for_nodes& scheduler, uint32_t limit,
                       std::vector<pool_job>&& jobs) {
  if (jobs.empty())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopping_)
    return;
  auto addr = scheduler.address();
  auto it = std::find_if(lanes_.begin(), lanes_.end(),
                         [&](const lane& l) { return l.scheduler == addr; });
  if (it == lanes_.end()) {
    lanes_.push_back(lane{addr, {}, 0, 0});
    it = lanes_.end() - 1;
  }
  it->limit = limit;
  auto now = std::chrono::steady_clock::now();
  for (auto& job : jobs) {
    job.received = now;
    it->jobs.push_back(std::move(job));
  }
  queued_ += jobs.size();
  start_threads();
  // One thread; it wakes the next if work remains when it takes a job. Short
  // tasks are then drained by few threads instead of waking one per task.
  work_cv_.notify_one();
}

template <class Predicate>
void task_pool::cancel_if(Predicate pred) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& l : lanes_)
    for (auto& job : l.jobs)
      if (pred(l.scheduler, job.id, job.epoch))
        job.cancelled = true;
  for (auto& w : workers_)
    if (w->busy && pred(w->scheduler, w->id, w->epoch))
      w->cancel = true;
  cancel_cv_.notify_all();
}

void task_pool::cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch) {
  cancel_if([&](const caf::actor_addr& s, task_id i, uint32_t e) {
    return i == id && e == epoch && s == scheduler;
  });
}

void task_pool::cancel_all(const caf::actor_addr& scheduler) {
  cancel_if([&](const caf::actor_addr& s, task_id, uint32_t) { return s == scheduler; });
}

void task_pool::stop(caf::timespan grace) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    lanes_.clear();
    queued_ = 0;
    for (auto& w : workers_)
      w->cancel = true;
    work_cv_.notify_all();
    cancel_cv_.notify_all();
  }
  outbox_.close();
  if (busy_ > 0)
    std::thread{[self = shared_from_this(), grace] { self->report_blocked(grace); }}.detach();
}

// Tasks that ignore their cancel and still run after the grace period are
// named, so that an operator knows what the process left behind.
void task_pool::report_blocked(caf::timespan grace) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (idle_cv_.wait_for(guard, grace, [this] { return busy_ == 0; }))
    return;
  for (auto& w : workers_)
    if (w->busy && w->function != nullptr)
      log(log_level::warning, "node {}: task {} {} still runs {:.1f} s after the node "
          "stopped; the process does not wait for it", node_name_, w->id, *w->function,
          std::chrono::duration<double>(grace).count());
}

bool task_pool::sleep_for(std::atomic<bool>& cancelled, caf::timespan d) {
  std::unique_lock<std::mutex> guard{mtx_};
  return !cancel_cv_.wait_for(guard, d, [&] { return cancelled.load(); });
}

void task_pool::work(worker* w) {
  std::unique_lock<std::mutex> guard{mtx_};
  for (;;) {
    lane* from = nullptr;
    work_cv_.wait(guard, [&] { return stopping_ || (from = next_lane()) != nullptr; });
    if (stopping_) {
      --idle_;
      return;
    }
    auto job = std::move(from->jobs.front());
    from->jobs.pop_front();
    ++from->running;
    --queued_;
    --idle_;
    if (idle_ > 0 && runnable() > 0)
      work_cv_.notify_one();
    ++busy_;
    w->busy = true;
    w->cancel = job.cancelled;
    w->scheduler = job.scheduler.address();
    w->id = job.id;
    w->epoch = job.epoch;
    w->function = &job.function;
    guard.unlock();
    auto started = std::chrono::steady_clock::now();
    if (auto outcome = run_attempts(*this, job, w->cancel)) {
      outcome->wait_us = micros(started - job.received);
      outcome->run_us = micros(std::chrono::steady_clock::now() - started);
      post(job.scheduler, std::move(*outcome));
    }
    auto scheduler = job.scheduler.address();
    guard.lock();
    w->function = nullptr;
    if (stopping_) {
      // The actor system may be gone by now: its handles must not be
      // released into it. Kept (reachable) until the process ends; every
      // node's pool shares the list.
      static std::mutex mtx;
      static auto* left_behind = new std::vector<pool_job>;
      std::lock_guard<std::mutex> keep{mtx};
      left_behind->push_back(std::move(job));
    }
    job = pool_job{};  // drop the arguments before waiting for more
    for (auto i = lanes_.begin(); i != lanes_.end(); ++i)
      if (i->scheduler == scheduler) {
        if (--i->running == 0 && i->jobs.empty())
          lanes_.erase(i);  // a scheduler's lane lives while it has work here
        break;
      }
    if (--busy_ == 0 && stopping_)
      idle_cv_.notify_all();
    w->busy = false;
    ++idle_;
  }
}

} // namespace gasched::detail

