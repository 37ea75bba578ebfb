#include "node/attempts.hpp"

#include <chrono>
#include <cmath>
#include <mutex>
#include <random>

#include "gasched/errc.hpp"
#include "logging.hpp"
#include "node/task_context.hpp"

namespace gasched::detail {

namespace {

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

// Clears the thread's task context however the call ends.
struct context_guard {
  ~context_guard() {
    current_task = task_context{};
  }
};

} // namespace

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

attempt_result call_once(task_job& job, const std::string& node_name,
                         const caf::actor& worker) {
  context_guard guard;
  current_task = task_context{&job, &node_name, &worker, job.attempt.load()};
  attempt_result r;
  try {
    r.value = job.fn->call(job.args);
  } catch (const permanent_failure& e) {
    r.kind = attempt_result::permanent;
    r.what = e.what();
  } catch (const std::exception& e) {
    r.kind = attempt_result::failed;
    r.what = e.what();
  } catch (...) {
    r.kind = attempt_result::failed;
    r.what = "an exception that is not a std::exception";
  }
  return r;
}

next_step after_attempt(const task_job& job, attempt_result&& r, const std::string& node_name) {
  next_step next;
  run_outcome out{job.id, job.epoch, {}, {}};
  auto& policy = *job.policy;
  auto attempt = job.attempt.load();
  if (policy.max_retries == 0) {
    out.error = make_error(errc::max_retries, "max_retries is 0");
    next.outcome = std::move(out);
    return next;
  }
  switch (r.kind) {
    case attempt_result::ok:
      out.value = std::move(r.value);
      next.outcome = std::move(out);
      return next;
    case attempt_result::permanent:
      log(log_level::error, "task {} {} on {}: permanent failure: {} -> giving up", job.id,
          job.function, node_name, r.what);
      out.error = make_error(errc::permanent_failure, r.what);
      next.outcome = std::move(out);
      return next;
    case attempt_result::failed:
      break;
  }
  if (policy.max_retries != infinity && attempt >= policy.max_retries) {
    log(log_level::warning, "task {} {} on {}: attempt {} of {} failed: {} -> giving up",
        job.id, job.function, node_name, attempt, policy.max_retries, r.what);
    out.error = make_error(errc::max_retries,
                           fmt::format("{} attempts; last: {}", attempt, r.what));
    next.outcome = std::move(out);
    return next;
  }
  next.pause = pause_before(policy, attempt + 1);
  uint64_t suppressed = 0;
  if (log_enabled(log_level::warning) && retry_log_allowed(suppressed))
    log(log_level::warning, "task {} {} on {}: attempt {} failed: {} -> retrying in {}{}",
        job.id, job.function, node_name, attempt, r.what, seconds(next.pause),
        suppressed > 0 ? fmt::format(" ({} retry lines not shown)", suppressed) : "");
  return next;
}

} // namespace gasched::detail
