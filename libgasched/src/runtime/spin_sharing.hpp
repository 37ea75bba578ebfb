// CAF's "sharing" scheduler policy with a bounded spin before sleeping.
//
// CAF's work_sharing puts a worker thread to sleep on a condition variable
// the moment its queue is empty; the next message (most often the answer to
// what the thread just sent, tens of microseconds later) then pays a futex
// wake-up, 5-15 us on a virtual core, on each hand-off of a round trip. Like
// the BEAM's schedulers (+sbwt), a worker here polls the queue for `spin`
// after its last job before it sleeps: a message arriving within that
// window is taken without a wake-up, and an idle process still sleeps (the
// window closes `spin` after the last job). While spinning the thread
// yields the core between polls, and stops at the first yield that let
// another thread run: on a busy machine a woken thread goes before one that
// kept polling, so there it sleeps at once.
//
// Actors that CAF's I/O thread makes runnable may run on that thread instead
// (gasched.io-actors, io_actors.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>

#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/timespan.hpp>

#include "runtime/io_actors.hpp"

namespace gasched::detail {

/// Spins for at most `window` polling `ready`; true as soon as it holds.
bool spin_until_ready(caf::timespan window, const std::atomic<size_t>& ready);

class spin_sharing : public caf::policy::unprofiled {
public:
  using queue_type = std::list<caf::resumable*>;

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator* parent);

    queue_type queue;
    std::atomic<size_t> size{0};
    std::mutex lock;
    std::condition_variable cv;
    caf::timespan spin;
    bool io_actors;  // gasched.io-actors=idle
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {
    }
  };

  template <class Coordinator>
  void enqueue(Coordinator* self, caf::resumable* job) {
    queue_type l;
    l.push_back(job);
    auto& data = d(self);
    std::unique_lock<std::mutex> guard(data.lock);
    data.queue.splice(data.queue.end(), l);
    data.size.fetch_add(1, std::memory_order_release);
    data.cv.notify_one();  // no system call unless a thread sleeps
  }

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    // CAF hands an actor that the I/O thread makes runnable to the
    // coordinator: that thread may keep it.
    if (d(self).io_actors && io_thread_takes(self, job, &to_workers<Coordinator>))
      return;
    enqueue(self, job);
  }

  template <class Coordinator>
  static void to_workers(caf::scheduler::abstract_coordinator* self, caf::resumable* job) {
    spin_sharing{}.enqueue(static_cast<Coordinator*>(self), job);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& data = d(self->parent());
    if (data.size.load(std::memory_order_acquire) == 0)
      spin_until_ready(data.spin, data.size);
    std::unique_lock<std::mutex> guard(data.lock);
    data.cv.wait(guard, [&] { return !data.queue.empty(); });
    auto job = data.queue.front();
    data.queue.pop_front();
    data.size.fetch_sub(1, std::memory_order_relaxed);
    return job;
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker*, UnaryFunction) {
  }

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& data = d(self);
    std::unique_lock<std::mutex> guard(data.lock);
    while (!data.queue.empty()) {
      auto job = data.queue.front();
      data.queue.pop_front();
      data.size.fetch_sub(1, std::memory_order_relaxed);
      f(job);
    }
  }
};

} // namespace gasched::detail
