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
  : node_(node), max_workers_(max_workers), restarts_(restarts), period_(period),
    shared_(std::make_shared<worker_shared>(std::move(node_name), node->address(),
                                            std::move(reg))) {
}

size_t task_pool::workers() const {
  return static_cast<size_t>(
    std::count_if(workers_.begin(), workers_.end(),
                  [](const caf::actor& w) { return w != nullptr; }));
}

size_t task_pool::slot_of(const caf::actor_addr& worker) const {
  for (size_t i = 0; i < workers_.size(); ++i)
    if (workers_[i] && workers_[i].address() == worker)
      return i;
  return workers_.size();
}

bool task_pool::is_worker(const caf::actor_addr& source) const {
  return slot_of(source) < workers_.size();
}

size_t task_pool::held(const caf::actor_addr& scheduler) const {
  return shared_->jobs.held(scheduler);
}

void task_pool::submit(const scheduler_for_nodes& scheduler, uint32_t limit,
                       std::vector<job_ptr>&& jobs) {
  if (jobs.empty() || stopping_)
    return;
  shared_->jobs.push(scheduler.address(), limit, std::move(jobs));
  dispatch();
}

void task_pool::dispatch() {
  if (stopping_)
    return;
  auto plan = shared_->jobs.plan(max_workers_);
  for (size_t i = 0; i < plan.spawn; ++i)
    workers_.push_back(spawn_task_worker(node_, shared_, plan.first_new + i, 0));
  for (size_t i = 0; i < plan.wake.size(); ++i) {
    auto slot = plan.wake[i];
    if (plan.pokes[i] && plan.pokes[i]())
      continue;  // its thread takes the job itself
    // From the node's own thread (its execution unit): no wake-up elsewhere.
    workers_[slot]->enqueue(node_->ctrl(), caf::make_message_id(),
                            caf::make_message(run_atom::value), node_->context());
  }
}

caf::error task_pool::worker_exited(const caf::actor_addr& worker, const std::string& why) {
  auto index = slot_of(worker);
  if (index == workers_.size() || stopping_)
    return caf::none;
  workers_[index] = nullptr;
  // Cancelled as they are taken: a call still running on the dead worker's
  // thread is told to stop, and whatever it returns is dropped.
  auto jobs = shared_->jobs.worker_died(index);
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
  std::string running;
  for (auto& job : jobs)
    running += fmt::format(" running task {} {}", job->id, job->function);
  log(log_level::warning, "node {}: a task worker died ({}){}; restarted", node_name(), why,
      running);
  for (auto& job : jobs) {
    // A death is a failed attempt (one that had not started counts as one).
    if (job->attempt == 0)
      job->attempt = 1;
    attempt_result r{attempt_result::failed, {}, "its task worker died: " + why};
    auto next = after_attempt(*job, std::move(r), node_name());
    if (next.outcome) {
      post(job->scheduler, std::move(*next.outcome));
      continue;
    }
    // Resumed on a worker, as a fresh job: the old one stays cancelled for
    // the call that may still run.
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
    shared_->jobs.push_front(std::move(fresh), next.pause);
  }
  // Its successor looks for work as it starts (its slot is marked woken).
  workers_[index] = spawn_task_worker(node_, shared_, index, shared_->jobs.generation(index));
  workers_[index]->enqueue(node_->ctrl(), caf::make_message_id(),
                           caf::make_message(run_atom::value), node_->context());
  dispatch();
  return caf::none;
}

void task_pool::cancel(const caf::actor_addr& scheduler, task_id id, uint32_t epoch) {
  shared_->jobs.cancel(scheduler, id, epoch);
}

void task_pool::cancel_all(const caf::actor_addr& scheduler) {
  shared_->jobs.cancel_all(scheduler);
}

void task_pool::stop(caf::timespan grace) {
  if (stopping_)
    return;
  stopping_ = true;
  shared_->stopping = true;
  shared_->jobs.stop();
  for (auto& w : workers_) {
    if (w)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    w = nullptr;
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
