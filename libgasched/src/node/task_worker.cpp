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
  bool poked = false;  // its node woke it: jobs wait
  std::shared_ptr<worker_shared> shared;
  size_t slot = 0;
  uint64_t gen = 0;
};

void set_times(run_outcome& outcome, const task_job& job) {
  auto now = std::chrono::steady_clock::now();
  outcome.wait_us = micros(job.started - job.received);
  outcome.run_us = micros(now - job.started);
}

// After a blocking call that succeeded: its outcome, posted, and the next
// job of the slot; the next blocking one runs here too (returned), anything
// else goes to the worker.
job_ptr succeeded(runner& r, const caf::actor& owner, job_ptr job, attempt_result&& result) {
  auto next = after_attempt(*job, std::move(result), r.shared->node_name);
  if (!next.outcome) {  // not for an ok call; kept for safety: its worker decides
    caf::anon_send(owner, worker_result_atom::value, std::move(job),
                   attempt_result{attempt_result::failed, {}, "no outcome"});
    return nullptr;
  }
  set_times(*next.outcome, *job);
  auto& shared = *r.shared;
  auto t = shared.jobs.post_then_next(r.slot, r.gen, job, [&] {
    shared.post(job->scheduler, std::move(*next.outcome));
  });
  if (!t)
    return nullptr;
  auto& n = *t->job;
  if (n.attempt == 0)
    n.started = std::chrono::steady_clock::now();
  if (n.fn->mode == call_mode::blocking && t->pause.count() == 0 && !n.cancelled) {
    ++n.attempt;
    return std::move(t->job);
  }
  caf::anon_send(owner, run_atom::value, std::move(t->job), t->pause);
  return nullptr;
}

void run_calls(std::shared_ptr<runner> r) {
  std::unique_lock<std::mutex> guard{r->mtx};
  for (;;) {
    r->cv.wait(guard, [&] { return r->stop || r->poked || r->job != nullptr; });
    if (r->job == nullptr && r->poked && !r->stop) {
      // Its node woke it: it takes the next job; a blocking one runs here.
      r->poked = false;
      auto owner = r->owner;
      guard.unlock();
      auto t = r->shared->jobs.next(r->slot, r->gen);
      guard.lock();
      if (!t)
        continue;
      auto& n = *t->job;
      if (n.attempt == 0)
        n.started = std::chrono::steady_clock::now();
      if (r->owner && n.fn->mode == call_mode::blocking && t->pause.count() == 0
          && !n.cancelled) {
        ++n.attempt;
        r->job = std::move(t->job);
      } else {
        // A worker gone meanwhile counts the job as a failed attempt.
        if (owner)
          caf::anon_send(owner, run_atom::value, std::move(t->job), t->pause);
        continue;
      }
    }
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
      if (result.kind == attempt_result::ok && !job->cancelled) {
        guard.unlock();
        auto more = succeeded(*r, owner, std::move(job), std::move(result));
        guard.lock();
        if (more && r->owner)
          r->job = std::move(more);
        // else: a worker gone meanwhile counted it as a failed attempt
      } else {
        caf::anon_send(r->owner, worker_result_atom::value, std::move(job), std::move(result));
      }
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
  size_t slot = 0;
  uint64_t gen = 0;
  job_ptr job;                      // the one in hand
  std::shared_ptr<runner> thread;   // with its first blocking task
  // Outcomes of the jobs run in a row, posted together.
  std::vector<std::pair<scheduler_for_nodes, run_outcome>> batch;
};

using worker_self = caf::event_based_actor;

void post_batch(worker_core& core) {
  if (core.batch.empty())
    return;
  // More than one in a row: tasks stream in, and more outcomes may follow in a
  // moment (workers woken by the node's next orders): the node sends them
  // together. One alone, nothing else in hand: sent at once (a lone task's
  // round trip).
  auto more = core.batch.size() > 1 || core.shared->others_in_hand();
  core.shared->outcomes.post_all(core.batch, more);
  core.batch.clear();
  core.shared->jobs.posted(core.slot);
}

// The job in hand is over: its outcome, if any, joins the batch.
void finish(worker_core& core, std::optional<run_outcome> outcome) {
  auto job = std::move(core.job);
  core.job = nullptr;
  if (outcome && !job->cancelled) {
    set_times(*outcome, *job);
    core.batch.emplace_back(job->scheduler, std::move(*outcome));
  }
}

// True: the job in hand is over; false: it goes on later (a timer, its thread).
bool judge(worker_self* self, worker_core& core, attempt_result&& r) {
  auto& job = *core.job;
  if (job.cancelled) {
    finish(core, std::nullopt);
    return true;
  }
  auto next = after_attempt(job, std::move(r), core.shared->node_name);
  if (next.outcome) {
    finish(core, std::move(next.outcome));
    return true;
  }
  if (next.pause.count() > 0)
    self->delayed_send(self, next.pause, worker_retry_atom::value, core.job);
  else
    self->send(self, worker_retry_atom::value, core.job);
  return false;
}

// An attempt of the job in hand; true if the job is over.
bool attempt(worker_self* self, worker_core& core) {
  auto& job = *core.job;
  if (job.cancelled) {
    finish(core, std::nullopt);
    return true;
  }
  ++job.attempt;
  if (job.fn->mode == call_mode::non_blocking) {
    auto me = caf::actor_cast<caf::actor>(self);
    return judge(self, core, call_once(job, core.shared->node_name, me));
  }
  if (!core.thread) {
    core.thread = std::make_shared<runner>();
    core.thread->owner = caf::actor_cast<caf::actor>(self);
    core.thread->shared = core.shared;
    core.thread->slot = core.slot;
    core.thread->gen = core.gen;
    std::thread{run_calls, core.thread}.detach();
    std::weak_ptr<runner> weak = core.thread;
    core.shared->jobs.set_poke(core.slot, core.gen, [weak] {
      auto r = weak.lock();
      if (!r)
        return false;
      std::lock_guard<std::mutex> guard{r->mtx};
      if (!r->owner || r->stop)
        return false;
      r->poked = true;
      r->cv.notify_one();
      return true;
    });
  }
  std::lock_guard<std::mutex> guard{core.thread->mtx};
  core.thread->job = core.job;
  core.thread->cv.notify_one();
  return false;
}

// Takes `t` in hand: its attempt now, or after its pause; true if it is over.
bool start(worker_self* self, worker_core& core, run_queue::taken&& t) {
  core.job = std::move(t.job);
  if (core.job->attempt == 0)
    core.job->started = std::chrono::steady_clock::now();
  if (t.pause.count() > 0) {
    self->delayed_send(self, t.pause, worker_retry_atom::value, core.job);
    return false;
  }
  return attempt(self, core);
}

// Runs the jobs waiting, in a row, until there are none or one goes on later;
// then posts their outcomes together.
void work(worker_self* self, worker_core& core) {
  for (size_t n = 0;; ++n) {
    auto t = core.shared->jobs.next(core.slot, core.gen, false);
    if (!t)
      break;
    if (n == run_queue::max_in_a_row) {
      // Its turn is over: the job taken waits in its mailbox.
      self->send(self, run_atom::value, std::move(t->job), t->pause);
      break;
    }
    if (!start(self, core, std::move(*t)))
      break;
  }
  post_batch(core);
}

} // namespace

caf::actor spawn_task_worker(caf::local_actor* node_self, std::shared_ptr<worker_shared> shared,
                             size_t slot, uint64_t gen) {
  return node_self->spawn<caf::monitored>(
    [slot, gen](worker_self* self, std::shared_ptr<worker_shared> sh) -> caf::behavior {
      auto core = std::make_shared<worker_core>();
      core->shared = std::move(sh);
      core->slot = slot;
      core->gen = gen;
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
        // From its node: jobs wait. Its slot holds none (the node wakes only
        // idle slots); a job its thread ran since is over.
        [self, core](run_atom) {
          core->job = nullptr;
          work(self, *core);
        },
        // From its thread or itself: a job its slot took, to start here.
        [self, core](run_atom, job_ptr& job, caf::timespan pause) {
          if (start(self, *core, run_queue::taken{std::move(job), pause}))
            work(self, *core);
        },
        [self, core](worker_retry_atom, const job_ptr& job) {
          if (job == core->job && attempt(self, *core))
            work(self, *core);
        },
        // From its thread: the call of a job its slot holds (the thread may
        // have taken it itself).
        [self, core](worker_result_atom, job_ptr& job, attempt_result& r) {
          core->job = std::move(job);
          if (judge(self, *core, std::move(r)))
            work(self, *core);
        },
      };
    },
    std::move(shared));
}

} // namespace gasched::detail
