#include "node/attempts.hpp"

#include <chrono>
#include <cmath>
#include <mutex>
#include <random>

#include "gasched/errc.hpp"
#include "logging.hpp"
#include "node/task_context.hpp"
#include "node/task_pool.hpp"

namespace gasched::detail {

namespace {

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

// Clears the thread's task context however the attempts end.
struct context_guard {
  ~context_guard() {
    current_task = task_context{};
  }
};

} // namespace

std::optional<run_outcome> run_attempts(task_pool& pool, pool_job& job,
                                        std::atomic<bool>& cancel) {
  run_outcome out{job.id, job.epoch, {}, {}};
  auto& policy = *job.policy;
  if (policy.max_retries == 0) {
    out.error = make_error(errc::max_retries, "max_retries is 0");
    return out;
  }
  context_guard guard;
  current_task = task_context{&pool, &cancel, job.id, 0};
  std::string failure;
  for (uint32_t attempt = 1;; ++attempt) {
    if (cancel)
      return std::nullopt;
    current_task.attempt = attempt;
    try {
      out.value = job.fn->call(job.args);
      if (cancel)  // cancelled while running: the scheduler has moved on
        return std::nullopt;
      return out;
    } catch (const permanent_failure& e) {
      log(log_level::error, "task {} {} on {}: permanent failure: {} -> giving up", job.id,
          job.function, pool.node_name(), e.what());
      out.error = make_error(errc::permanent_failure, e.what());
      return out;
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "an exception that is not a std::exception";
    }
    if (policy.max_retries != infinity && attempt >= policy.max_retries) {
      log(log_level::warning, "task {} {} on {}: attempt {} of {} failed: {} -> giving up",
          job.id, job.function, pool.node_name(), attempt, policy.max_retries, failure);
      out.error = make_error(errc::max_retries,
                             fmt::format("{} attempts; last: {}", attempt, failure));
      return out;
    }
    auto pause = pause_before(policy, attempt + 1);
    uint64_t suppressed = 0;
    if (log_enabled(log_level::warning) && retry_log_allowed(suppressed))
      log(log_level::warning, "task {} {} on {}: attempt {} failed: {} -> retrying in {}{}",
          job.id, job.function, pool.node_name(), attempt, failure, seconds(pause),
          suppressed > 0 ? fmt::format(" ({} retry lines not shown)", suppressed) : "");
    if (pause.count() > 0 && !pool.sleep_for(cancel, pause))
      return std::nullopt;
  }
}

} // namespace gasched::detail
