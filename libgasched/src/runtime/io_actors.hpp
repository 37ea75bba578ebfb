// Actors that CAF's I/O thread makes runnable run on that thread while it
// has nothing else to do.
//
// A message read from a socket is delivered by the I/O thread (BASP decodes
// there with middleman.workers=0); the receiving actor then goes to CAF's
// scheduler, whose thread must be woken (a futex wake-up and a context
// switch, 5-15 us on a virtual core), and whatever the actor sends to a
// remote actor comes back to the I/O thread through its wake-up pipe (a
// write, and another wake-up). With gasched.io-actors=idle the I/O thread
// keeps such an actor and runs it itself just before it would block in
// epoll_wait: the answer is handed to the network on the same thread, with
// no wake-up in between. When sockets are ready at that point (the thread
// has work of its own) the actors it kept go to CAF's threads as before, so
// under load decoding and actors still run in parallel.
//
// The cost: an actor that computes for long on the I/O thread holds up
// every connection of the process for that time (heartbeats too). gasched's
// actors never block; an application whose own actors compute sets
// gasched.io-actors=never.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace gasched::detail {

inline constexpr const char* io_actors_key = "gasched.io-actors";

/// Queues `job` on CAF's threads (the scheduler policy's own queue).
using to_workers_fn = void (*)(caf::scheduler::abstract_coordinator*, caf::resumable*);

/// True when the calling thread is `c`'s system's I/O thread and keeps `job`
/// to run before it blocks; false: the caller queues it as usual.
bool io_thread_takes(caf::scheduler::abstract_coordinator* c, caf::resumable* job,
                     to_workers_fn to_workers);

/// On the I/O thread, in epoll_wait: whether it keeps actors to run.
bool io_thread_has_actors() noexcept;

/// Runs the actors kept, and those they make runnable, for a few passes
/// (the rest wait for the next call) or, with `sockets_ready`, hands them to
/// CAF's threads.
void io_thread_run_actors(bool sockets_ready);

/// Whether the calling thread is `sys`'s I/O thread, where a call that
/// waits for the middleman (remote_actor, publish) would wait forever.
bool on_io_thread(caf::actor_system& sys);

inline constexpr const char* io_thread_blocking_call
  = "called on CAF's I/O thread (an actor that gasched.io-actors=idle runs there), which it "
    "would wait for forever; connect through gasched::connector without blocking, or set "
    "gasched.io-actors=never";

/// Marks the calling thread as one whose blocking epoll_wait calls go
/// through libgasched's (so that what it keeps is sure to run).
void io_thread_hooked() noexcept;

} // namespace gasched::detail
