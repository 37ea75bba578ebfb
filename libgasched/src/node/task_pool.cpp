#include "node/task_pool.hpp"

#include <algorithm>
#include <thread>

#include <caf/local_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>
#include <caf/send.hpp>

#include "gasched/errc.hpp"
#include "logging.hpp"
#include "node/attempts.hpp"

namespace gasched::detail {

task_pool::task_pool(caf::local_actor* node, std::string node_name,
                     std::shared_ptr<const registry> reg, uint32_t max_workers,
                     uint32_t restarts, caf::timespan period)
  : node_(node), registry_(std::move(reg)), max_workers_(max_workers), restarts_(restarts),
    period_(period),
    shared_(std::make_shared<worker_shared>(std::move(node_name), node->address())) {
}

size_t task_pool::workers() const {
  return static_cast<size_t>(
    std::count_if(slots_.begin(), slots_.end(), [](const slot& s) { return s.worker != nullptr; }));
}

bool task_pool::is_worker(const caf::actor_addr& source) const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [&](const slot& s) { return s.worker && s.worker.address() == source; });
}

task_pool::slot* task_pool::slot_of(const caf::actor_addr& worker) {
  for (auto& s : slots_)
    if (s.worker && s.worker.address() == worker)
      return &s;
  return nullptr;
}

task_pool::lane* task_pool::lane_of(const caf::actor_addr& scheduler) noexcept {
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      return &l;
  return nullptr;
}

size_t task_pool::held(const caf::actor_addr& scheduler) const {
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      return l.jobs.size() + l.running;
  return 0;
}

std::vector<task_pool::held_lease> task_pool::leases() const {
  std::vector<held_lease> result;
  for (auto& l : lanes_)
    for (auto& [job, pause] : l.jobs)
      if (!job->cancelled)
        result.push_back(held_lease{l.scheduler, job->id, job->epoch});
  for (auto& s : slots_)
    if (s.job && !s.job->cancelled)
      result.push_back(held_lease{s.job->scheduler.address(), s.job->id, s.job->epoch});
  return result;
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

void task_pool::submit(const scheduler_for_nodes& scheduler, uint32_t limit,
                       std::vector<job_ptr>&& jobs) {
  if (jobs.empty() || stopping_)
    return;
  auto addr = scheduler.address();
  auto l = lane_of(addr);
  if (l == nullptr) {
    lanes_.push_back(lane{addr, {}, 0, 0});
    l = &lanes_.back();
  }
  l->limit = limit;
  auto now = std::chrono::steady_clock::now();
  for (auto& job : jobs) {
    job->received = now;
    l->jobs.emplace_back(std::move(job), caf::timespan{0});
  }
  shared_->queued += jobs.size();
  dispatch();
}

void task_pool::dispatch() {
  while (!stopping_) {
    if (idle_.empty()) {
      auto any = std::any_of(lanes_.begin(), lanes_.end(),
                             [](const lane& l) { return l.runnable() > 0; });
      if (slots_.size() >= max_workers_ || !any)
        return;
      slots_.push_back(slot{spawn_task_worker(node_, shared_), nullptr});
      idle_.push_back(slots_.size() - 1);
    }
    auto l = next_lane();
    if (l == nullptr)
      return;
    auto [job, pause] = std::move(l->jobs.front());
    l->jobs.pop_front();
    --shared_->queued;
    if (job->cancelled) {
      if (l->running == 0 && l->jobs.empty())
        lanes_.erase(lanes_.begin() + (l - lanes_.data()));
      continue;
    }
    auto& s = slots_[idle_.back()];
    idle_.pop_back();
    ++l->running;
    ++shared_->busy;
    s.job = job;
    // From the node's own thread (its execution unit): no wake-up elsewhere.
    s.worker->enqueue(node_->ctrl(), caf::make_message_id(),
                      caf::make_message(run_atom::value, std::move(job), pause), node_->context());
  }
}

void task_pool::release(slot& s) {
  auto job = std::move(s.job);
  s.job = nullptr;
  --shared_->busy;
  auto addr = job->scheduler.address();
  for (auto i = lanes_.begin(); i != lanes_.end(); ++i)
    if (i->scheduler == addr) {
      if (--i->running == 0 && i->jobs.empty())
        lanes_.erase(i);  // a scheduler's lane lives while it has work here
      break;
    }
}

void task_pool::worker_done(const caf::actor_addr& worker) {
  auto s = slot_of(worker);
  if (s == nullptr || !s->job)
    return;
  release(*s);
  idle_.push_back(static_cast<size_t>(s - slots_.data()));
  dispatch();
}

caf::error task_pool::worker_exited(const caf::actor_addr& worker, const std::string& why) {
  auto s = slot_of(worker);
  if (s == nullptr || stopping_)
    return caf::none;
  auto index = static_cast<size_t>(s - slots_.data());
  idle_.erase(std::remove(idle_.begin(), idle_.end(), index), idle_.end());
  s->worker = nullptr;
  auto job = s->job;
  bool report = false;
  if (job) {
    release(*s);
    report = !job->cancelled;
    // Its call may still run on the dead worker's thread: told to stop, and
    // whatever it returns is dropped.
    job->cancel();
  }
  auto now = std::chrono::steady_clock::now();
  deaths_.push_back(now);
  while (!deaths_.empty() && now - deaths_.front() > period_)
    deaths_.pop_front();
  if (deaths_.size() > restarts_)
    return make_error(errc::node_failures,
                      fmt::format("node {}: {} task workers died within {:.3g} s (more than "
                                  "worker_restarts, {}); the node stops",
                                  node_name(), deaths_.size(),
                                  std::chrono::duration<double>(period_).count(), restarts_));
  log(log_level::warning, "node {}: a task worker died ({}){}; restarted", node_name(), why,
      job ? fmt::format(" running task {} {}", job->id, job->function) : std::string{});
  if (report) {
    // A death is a failed attempt (one that had not started counts as one).
    if (job->attempt == 0)
      job->attempt = 1;
    attempt_result r{attempt_result::failed, {}, "its task worker died: " + why};
    auto next = after_attempt(*job, std::move(r), node_name());
    if (next.outcome) {
      post(job->scheduler, std::move(*next.outcome));
    } else {
      // Resumed on a worker, as a fresh job: the old one stays cancelled
      // for the call that may still run.
      auto fresh = std::make_shared<task_job>();
      fresh->scheduler = job->scheduler;
      fresh->id = job->id;
      fresh->epoch = job->epoch;
      fresh->function = job->function;
      fresh->fn = job->fn;
      fresh->args = job->args;
      fresh->policy = job->policy;
      fresh->received = job->received;
      fresh->started = job->started;
      fresh->attempt = job->attempt.load();
      auto addr = job->scheduler.address();
      auto l = lane_of(addr);
      if (l == nullptr) {
        lanes_.push_back(lane{addr, {}, 0, 0});
        l = &lanes_.back();
      }
      l->jobs.emplace_front(std::move(fresh), next.pause);
      ++shared_->queued;
    }
  }
  s->worker = spawn_task_worker(node_, shared_);
  idle_.push_back(index);
  dispatch();
  return caf::none;
}

void task_pool::cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch) {
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      for (auto& [job, pause] : l.jobs)
        if (job->id == id && job->epoch == epoch)
          job->cancel();
  for (auto& s : slots_)
    if (s.job && s.job->id == id && s.job->epoch == epoch
        && s.job->scheduler.address() == scheduler)
      s.job->cancel();
}

void task_pool::cancel_all(const caf::actor_addr& scheduler) {
  for (auto& l : lanes_)
    if (l.scheduler == scheduler)
      for (auto& [job, pause] : l.jobs)
        job->cancel();
  for (auto& s : slots_)
    if (s.job && s.job->scheduler.address() == scheduler)
      s.job->cancel();
}

void task_pool::stop(caf::timespan grace) {
  if (stopping_)
    return;
  stopping_ = true;
  shared_->stopping = true;
  for (auto& l : lanes_)
    for (auto& [job, pause] : l.jobs)
      job->cancel();
  lanes_.clear();
  shared_->queued = 0;
  for (auto& s : slots_) {
    if (s.job)
      s.job->cancel();
    if (s.worker)
      caf::anon_send_exit(s.worker, caf::exit_reason::user_shutdown);
    s.worker = nullptr;
    s.job = nullptr;
  }
  shared_->outcomes.close();
  std::lock_guard<std::mutex> guard{shared_->calls_mtx};
  if (!shared_->calls.empty())
    std::thread{[shared = shared_, grace] {
      // Calls that ignore their cancel and still run after the grace period
      // are named, so that an operator knows what the process left behind.
      std::unique_lock<std::mutex> guard{shared->calls_mtx};
      if (shared->calls_done.wait_for(guard, grace, [&] { return shared->calls.empty(); }))
        return;
      for (auto& c : shared->calls)
        log(log_level::warning, "node {}: task {} {} still runs {:.1f} s after the node "
            "stopped; the process does not wait for it", shared->node_name, c->id, c->function,
            std::chrono::duration<double>(grace).count());
    }}.detach();
}

} // namespace gasched::detail
