#include "task_pool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include <caf/send.hpp>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/this_task.hpp"
#include "logging.hpp"

namespace gasched::detail {

namespace {

// What this_task answers on a pool thread.
struct task_context {
  task_pool* pool = nullptr;
  std::atomic<bool>* cancelled = nullptr;
  task_id id = 0;
  uint32_t attempt = 0;
};

thread_local task_context current;

// The pause before attempt `next` (2, 3, ...): retry_timeout grown by
// backoff per attempt, capped, and drawn from [0, pause] with jitter.
caf::timespan pause_before(const retry_policy& p, uint32_t next) {
  auto pause = static_cast<double>(p.retry_timeout.count());
  if (p.backoff > 1.0) {
    pause *= std::pow(p.backoff, static_cast<double>(next - 2));
    pause = std::min(pause, static_cast<double>(p.backoff_max.count()));
  }
  if (p.jitter && pause > 0) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    pause = std::uniform_real_distribution<double>{0.0, pause}(rng);
  }
  return caf::timespan{static_cast<caf::timespan::rep>(pause)};
}

// Retry lines at most 20 a second per process: a task that fails fast and
// retries forever must not flood the log. The rest are counted and reported.
bool retry_log_allowed(uint64_t& suppressed) {
  static std::mutex mtx;
  static std::chrono::steady_clock::time_point window;
  static uint32_t lines = 0;
  static uint64_t dropped = 0;
  std::lock_guard<std::mutex> guard{mtx};
  auto now = std::chrono::steady_clock::now();
  if (now - window >= std::chrono::seconds(1)) {
    window = now;
    lines = 0;
  }
  if (++lines > 20) {
    ++dropped;
    return false;
  }
  suppressed = dropped;
  dropped = 0;
  return true;
}

std::string seconds(caf::timespan d) {
  return fmt::format("{:.3g} s", std::chrono::duration<double>(d).count());
}

} // namespace

task_pool::task_pool(std::string node_name, std::shared_ptr<const registry> reg,
                     uint32_t max_threads, caf::actor_addr node)
  : node_name_(std::move(node_name)), registry_(std::move(reg)),
    max_threads_(max_threads), node_(std::move(node)) {
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

void task_pool::submit(const caf::actor& scheduler, uint32_t limit,
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
  for (auto& job : jobs)
    it->jobs.push_back(std::move(job));
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

void task_pool::stop() {
  std::lock_guard<std::mutex> guard{mtx_};
  stopping_ = true;
  lanes_.clear();
  queued_ = 0;
  for (auto& w : workers_)
    w->cancel = true;
  work_cv_.notify_all();
  cancel_cv_.notify_all();
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
    guard.unlock();
    if (auto outcome = run(job, *w))
      post(job.scheduler, std::move(*outcome));
    auto scheduler = job.scheduler.address();
    job = pool_job{};  // drop the arguments before waiting for more
    guard.lock();
    for (auto i = lanes_.begin(); i != lanes_.end(); ++i)
      if (i->scheduler == scheduler) {
        if (--i->running == 0 && i->jobs.empty())
          lanes_.erase(i);  // a scheduler's lane lives while it has work here
        break;
      }
    --busy_;
    w->busy = false;
    ++idle_;
  }
}

std::optional<run_outcome> task_pool::run(pool_job& job, worker& w) {
  run_outcome out{job.id, job.epoch, {}, {}};
  auto& policy = *job.policy;
  if (policy.max_retries == 0) {
    out.error = make_error(errc::max_retries, "max_retries is 0");
    return out;
  }
  current = task_context{this, &w.cancel, job.id, 0};
  std::string failure;
  for (uint32_t attempt = 1;; ++attempt) {
    if (w.cancel)
      return std::nullopt;
    current.attempt = attempt;
    try {
      out.value = job.fn->call(job.args);
      current = task_context{};
      if (w.cancel)  // cancelled while running: the scheduler has moved on
        return std::nullopt;
      return out;
    } catch (const permanent_failure& e) {
      log(log_level::error,
          "task {} {} on {}: permanent failure: {} -> giving up", job.id,
          job.function, node_name_, e.what());
      current = task_context{};
      out.error = make_error(errc::permanent_failure, e.what());
      return out;
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "an exception that is not a std::exception";
    }
    if (policy.max_retries != infinity && attempt >= policy.max_retries) {
      log(log_level::warning, "task {} {} on {}: attempt {} of {} failed: {} -> giving up",
          job.id, job.function, node_name_, attempt, policy.max_retries, failure);
      current = task_context{};
      out.error = make_error(errc::max_retries,
                             fmt::format("{} attempts; last: {}", attempt, failure));
      return out;
    }
    auto pause = pause_before(policy, attempt + 1);
    uint64_t suppressed = 0;
    if (log_enabled(log_level::warning) && retry_log_allowed(suppressed))
      log(log_level::warning, "task {} {} on {}: attempt {} failed: {} -> retrying in {}{}",
          job.id, job.function, node_name_, attempt, failure, seconds(pause),
          suppressed > 0 ? fmt::format(" ({} retry lines not shown)", suppressed) : "");
    if (pause.count() > 0 && !sleep_for(w.cancel, pause)) {
      current = task_context{};
      return std::nullopt;
    }
  }
}

void task_pool::post(const caf::actor& scheduler, run_outcome&& outcome) {
  std::unique_lock<std::mutex> guard{out_mtx_};
  outbox_.emplace_back(scheduler, std::move(outcome));
  if (flushing_)
    return;  // the thread that is sending takes it along
  if (queued_ > 0 || busy_ > 1) {
    // Other tasks may finish in a moment: let the node actor send them together.
    if (!flush_requested_) {
      flush_requested_ = true;
      if (auto node = caf::actor_cast<caf::actor>(node_)) {
        guard.unlock();
        caf::anon_send(node, flush_atom::value);
        return;
      }
    } else {
      return;
    }
  }
  send_outbox(guard);
}

void task_pool::flush() {
  std::unique_lock<std::mutex> guard{out_mtx_};
  flush_requested_ = false;
  if (!flushing_)
    send_outbox(guard);
}

void task_pool::send_outbox(std::unique_lock<std::mutex>& guard) {
  flushing_ = true;
  while (!outbox_.empty()) {
    auto ready = std::move(outbox_);
    outbox_.clear();
    guard.unlock();
    // Nearly always one scheduler; group without sorting.
    while (!ready.empty()) {
      auto dest = ready.front().first;
      done_batch batch;
      auto rest = std::stable_partition(ready.begin(), ready.end(),
                                        [&](auto& x) { return x.first != dest; });
      for (auto i = rest; i != ready.end(); ++i)
        batch.outcomes.push_back(std::move(i->second));
      ready.erase(rest, ready.end());
      caf::anon_send(dest, done_atom::value, std::move(batch));
    }
    guard.lock();
  }
  flushing_ = false;
}

} // namespace gasched::detail

namespace gasched::this_task {

using detail::current;

bool cancelled() noexcept {
  return current.cancelled != nullptr && current.cancelled->load();
}

bool sleep_for(caf::timespan d) {
  if (current.pool == nullptr) {
    std::this_thread::sleep_for(d);
    return true;
  }
  return current.pool->sleep_for(*current.cancelled, d);
}

task_id id() noexcept {
  return current.id;
}

uint32_t attempt() noexcept {
  return current.attempt;
}

const std::string& node_name() noexcept {
  static const std::string none;
  return current.pool != nullptr ? current.pool->node_name() : none;
}

} // namespace gasched::this_task
