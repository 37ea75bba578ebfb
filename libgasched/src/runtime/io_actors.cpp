#include "runtime/io_actors.hpp"

#include <thread>
#include <vector>

#include <caf/io/middleman.hpp>
#include <caf/io/network/multiplexer.hpp>

namespace gasched::detail {

namespace {

// What one I/O thread keeps. A thread belongs to one actor system's
// middleman, so one coordinator and one execution unit serve all its jobs.
struct kept_actors {
  std::vector<caf::resumable*> jobs;
  std::vector<caf::resumable*> running;  // the pass under way (reused memory)
  caf::execution_unit* unit = nullptr;   // the multiplexer
  caf::scheduler::abstract_coordinator* coordinator = nullptr;
  to_workers_fn to_workers = nullptr;
  bool hooked = false;

  void hand_off() {
    for (auto* job : jobs)
      to_workers(coordinator, job);
    jobs.clear();
  }

  // The middleman stops its thread before the scheduler stops: anything
  // still kept then goes to CAF's threads.
  ~kept_actors() {
    if (!jobs.empty())
      hand_off();
  }
};

thread_local kept_actors kept;

// Passes over the kept actors in one call before CAF's loop goes on (and
// writes what they sent): each pass more saves an epoll_wait and a turn of
// that loop, and holds up reading the sockets by one more actor's run.
constexpr int max_passes = 4;

} // namespace

void io_thread_hooked() noexcept {
  kept.hooked = true;
}

bool io_thread_takes(caf::scheduler::abstract_coordinator* c, caf::resumable* job,
                     to_workers_fn to_workers) {
  if (!kept.hooked || job->subtype() != caf::resumable::scheduled_actor)
    return false;
  auto& sys = c->system();
  if (!on_io_thread(sys))
    return false;
  kept.unit = &sys.middleman().backend();
  kept.coordinator = c;
  kept.to_workers = to_workers;
  kept.jobs.push_back(job);
  return true;
}

bool on_io_thread(caf::actor_system& sys) {
  return sys.has_middleman()
         && sys.middleman().backend().thread_id() == std::this_thread::get_id();
}

bool io_thread_has_actors() noexcept {
  return !kept.jobs.empty();
}

void io_thread_run_actors(bool sockets_ready) {
  if (sockets_ready) {
    kept.hand_off();
    return;
  }
  // Jobs that these make runnable on this thread go to kept.jobs and run in
  // the next pass: a few passes (a client's request to its scheduler, the
  // scheduler's answer) before the sockets are looked at again.
  auto throughput = kept.coordinator->max_throughput();
  for (int pass = 0; pass < max_passes && !kept.jobs.empty(); ++pass) {
    kept.running.swap(kept.jobs);
    for (auto* job : kept.running) {
      switch (job->resume(kept.unit, throughput)) {
        case caf::resumable::resume_later:
          kept.jobs.push_back(job);
          break;
        case caf::resumable::done:
        case caf::resumable::awaiting_message:
          intrusive_ptr_release(job);
          break;
        case caf::resumable::shutdown_execution_unit:
          break;  // only CAF's workers get shutdown jobs
      }
    }
    kept.running.clear();
  }
}

} // namespace gasched::detail
