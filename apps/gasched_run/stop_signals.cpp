#include "gasched_run/stop_signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace gasched::run {

namespace {

sigset_t watched() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

} // namespace

stop_signals::stop_signals() {
  auto set = watched();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // sigtimedwait rather than sigwait: the thread looks at done_ every
  // 100 ms, so the destructor can join it without sending it a signal.
  watcher_ = std::thread{[this, set] {
    timespec tick{0, 100'000'000};
    while (!done_) {
      auto sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0)
        continue;  // timeout or EINTR
      if (signal_ != 0)
        _exit(128 + sig);  // asked twice: the user wants out now
      signal_ = sig;
    }
  }};
}

stop_signals::~stop_signals() {
  done_ = true;
  watcher_.join();
}

} // namespace gasched::run
