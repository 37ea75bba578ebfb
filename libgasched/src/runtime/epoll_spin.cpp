// CAF's I/O thread (the middleman's multiplexer) sleeps in
// epoll_wait(..., -1) as soon as it has handled its events; the next event,
// most often the answer to the message it just wrote or a message an actor
// of this process hands it (a write to its wake-up pipe), then pays a
// wake-up of the thread. gasched defines epoll_wait itself (it is called
// through the PLT from CAF's library): a call that would block polls
// (timeout 0) for the process's I/O spin window after the calling thread's
// last event, yielding the core between polls (and blocking at once when a
// yield let another thread run), and only then blocks. An
// idle process sleeps as before once its window has passed. After a sleep of
// io_spin_quiet_after or more, the next event is most often a lone one (a
// heartbeat, a timer) that no answer follows: the thread blocks again at
// once, so that an idle cluster's heartbeats cost no polling; it polls again
// after a shorter sleep, once messages come and go. Calls with a timeout
// other than "forever" (-1) are passed through untouched. Before any of
// that, a blocking call runs the actors this thread kept (io_actors.hpp).
#include <dlfcn.h>
#include <sys/epoll.h>

#include <atomic>
#include <chrono>

#include "runtime/io_actors.hpp"
#include "runtime/spin_wait.hpp"

namespace gasched::detail {

namespace {

std::atomic<int64_t> io_spin_ns{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace

void set_io_spin(caf::timespan window) {
  io_spin_ns.store(window.count() > 0 ? window.count() : 0, std::memory_order_relaxed);
}

} // namespace gasched::detail

extern "C" int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout) {
  using fn = int (*)(int, epoll_event*, int, int);
  static auto real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "epoll_wait"));
  using gasched::detail::now_ns;
  thread_local int64_t last_event = 0;
  thread_local bool quiet = true;  // its last sleep was long (or it has not slept yet)
  if (timeout != -1)
    return real(epfd, events, maxevents, timeout);
  using namespace gasched::detail;
  io_thread_hooked();
  if (io_thread_has_actors()) {
    // Before blocking: run the actors this thread made runnable, unless
    // sockets are ready (then they go to CAF's threads). CAF's loop comes
    // back at once and first handles what they posted to it (their writes).
    int n = real(epfd, events, maxevents, 0);
    if (n != 0) {
      if (n > 0) {
        io_thread_run_actors(true);
        last_event = now_ns();
      }
      return n;
    }
    io_thread_run_actors(false);
    last_event = now_ns();
    return 0;
  }
  auto spin = io_spin_ns.load(std::memory_order_relaxed);
  if (spin == 0)
    return real(epfd, events, maxevents, timeout);
  auto until = quiet ? 0 : last_event + spin;
  while (now_ns() < until) {
    int n = real(epfd, events, maxevents, 0);
    if (n != 0) {
      if (n > 0)
        last_event = now_ns();
      return n;
    }
    if (!yield_found_core_idle())
      break;  // the machine is busy: sleep and be woken
  }
  auto slept_from = now_ns();
  int n = real(epfd, events, maxevents, timeout);
  auto now = now_ns();
  quiet = now - slept_from >= io_spin_quiet_after.count();
  if (n > 0)
    last_event = now;
  return n;
}
