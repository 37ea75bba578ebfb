#include "node/task_worker.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/send.hpp>

#include "node/attempts.hpp"
#include "wire.hpp"

namespace gasched::detail {

namespace {

// Saturates below UINT32_MAX, which means "not measured" (about 71 minutes).
uint32_t micros(std::chrono::steady_clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX - 1));
}

// Handles a thread keeps when its worker is gone and its node stopping: the
// actor system may be gone too, so they must not be released into it.
// Reachable until the process ends.
template <class T>
void keep_forever(T&& x) {
  static std::mutex mtx;
  static auto* kept = new std::vector<std::shared_ptr<void>>;
  std::lock_guard<std::mutex> guard{mtx};
  kept->push_back(std::make_shared<std::decay_t<T>>(std::forward<T>(x)));
}

// The worker's thread for blocking functions: one call at a time.
struct runner {
  std::mutex mtx;
  std::condition_variable cv;
  job_ptr job;         // the call to make, until it is made
  caf::actor owner;    // its worker; reset when the worker is gone
  bool stop = false;
  std::shared_ptr<worker_shared> shared;
};

void run_calls(std::shared_ptr<runner> r) {
  std::unique_lock<std::mutex> guard{r->mtx};
  for (;;) {
    r->cv.wait(guard, [&] { return r->stop || r->job != nullptr; });
    if (r->job == nullptr)
      return;
    auto job = r->job;
    auto owner = r->owner;
    guard.unlock();
    auto call = std::make_shared<worker_shared::call>(worker_shared::call{job->id, job->function});
    {
      std::lock_guard<std::mutex> calls{r->shared->calls_mtx};
      r->shared->calls.push_back(call);
    }
    auto result = call_once(*job, r->shared->node_name, owner);
    {
      std::lock_guard<std::mutex> calls{r->shared->calls_mtx};
      auto& v = r->shared->calls;
      v.erase(std::find(v.begin(), v.end(), call));
      if (v.empty())
        r->shared->calls_done.notify_all();
    }
    guard.lock();
    r->job = nullptr;
    if (r->owner) {
      caf::anon_send(r->owner, worker_result_atom::value, std::move(job), std::move(result));
    } else if (r->shared->stopping) {
      keep_forever(std::move(job));
      keep_forever(std::move(result));
      keep_forever(std::move(owner));
      return;
    }
  }
}

struct worker_core {
  std::shared_ptr<worker_shared> shared;
  caf::actor_addr node;
  job_ptr job;                      // the one in hand
  std::shared_ptr<runner> thread;   // with its first blocking task
};

using worker_self = caf::event_based_actor;

void finish(worker_self* self, worker_core& core, std::optional<run_outcome> outcome) {
  auto job = std::move(core.job);
  core.job = nullptr;
  if (outcome && !job->cancelled) {
    auto now = std::chrono::steady_clock::now();
    outcome->wait_us = micros(job->started - job->received);
    outcome->run_us = micros(now - job->started);
    core.shared->post(job->scheduler, std::move(*outcome));
  }
  if (auto node = caf::actor_cast<caf::actor>(core.node))
    self->send(node, worker_done_atom::value);
}

void judge(worker_self* self, worker_core& core, attempt_result&& r) {
  auto& job = *core.job;
  if (job.cancelled)
    return finish(self, core, std::nullopt);
  auto next = after_attempt(job, std::move(r), core.shared->node_name);
  if (next.outcome)
    return finish(self, core, std::move(next.outcome));
  if (next.pause.count() > 0)
    self->delayed_send(self, next.pause, worker_retry_atom::value, core.job);
  else
    self->send(self, worker_retry_atom::value, core.job);
}

void attempt(worker_self* self, worker_core& core) {
  auto& job = *core.job;
  if (job.cancelled)
    return finish(self, core, std::nullopt);
  ++job.attempt;
  if (job.fn->mode == call_mode::non_blocking) {
    auto me = caf::actor_cast<caf::actor>(self);
    return judge(self, core, call_once(job, core.shared->node_name, me));
  }
  if (!core.thread) {
    core.thread = std::make_shared<runner>();
    core.thread->owner = caf::actor_cast<caf::actor>(self);
    core.thread->shared = core.shared;
    std::thread{run_calls, core.thread}.detach();
  }
  std::lock_guard<std::mutex> guard{core.thread->mtx};
  core.thread->job = core.job;
  core.thread->cv.notify_one();
}

} // namespace

caf::actor spawn_task_worker(caf::local_actor* node_self, std::shared_ptr<worker_shared> shared) {
  auto node = node_self->address();
  return node_self->spawn<caf::monitored>(
    [](worker_self* self, std::shared_ptr<worker_shared> sh,
       caf::actor_addr n) -> caf::behavior {
      auto core = std::make_shared<worker_core>();
      core->shared = std::move(sh);
      core->node = std::move(n);
      // Its thread ends with it (after the call in progress, if any).
      self->attach_functor([core] {
        if (auto& r = core->thread) {
          std::lock_guard<std::mutex> guard{r->mtx};
          r->owner = nullptr;
          r->stop = true;
          r->cv.notify_one();
        }
        core->thread = nullptr;
        core->job = nullptr;
      });
      return {
        [self, core](run_atom, job_ptr& job, caf::timespan pause) {
          core->job = std::move(job);
          if (core->job->attempt == 0)
            core->job->started = std::chrono::steady_clock::now();
          if (pause.count() > 0)
            self->delayed_send(self, pause, worker_retry_atom::value, core->job);
          else
            attempt(self, *core);
        },
        [self, core](worker_retry_atom, const job_ptr& job) {
          if (job == core->job)
            attempt(self, *core);
        },
        [self, core](worker_result_atom, const job_ptr& job, attempt_result& r) {
          if (job == core->job)
            judge(self, *core, std::move(r));
        },
      };
    },
    std::move(shared), std::move(node));
}

} // namespace gasched::detail
