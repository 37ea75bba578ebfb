#include "stop_signal.hpp"

#include <pthread.h>

namespace gasched {

sigset_t block_stop_signals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  return stop;
}

int await_stop_signal(const sigset_t& blocked) {
  int sig = 0;
  sigwait(&blocked, &sig);
  return sig;
}

} // namespace gasched
