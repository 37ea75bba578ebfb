// SIGINT and SIGTERM as a message to one waiting thread: the way a gasched
// process that runs until it is told to stop (a node, a library scheduler)
// waits for that.
#pragma once

#include <signal.h>

namespace gasched {

/// Blocks SIGINT and SIGTERM in the calling thread and in every thread it
/// starts from now on, so that only await_stop_signal() sees them: call it
/// before the actor system starts its threads. Returns the blocked set.
sigset_t block_stop_signals();

/// Waits until one of `blocked` comes; returns its number.
int await_stop_signal(const sigset_t& blocked);

} // namespace gasched
