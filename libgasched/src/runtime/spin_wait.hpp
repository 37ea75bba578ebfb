// Bounded spinning before a thread sleeps (see spin_sharing.hpp and
// epoll_spin.cpp): the keys that set it and their defaults.
#pragma once

#include <chrono>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace gasched::detail {

inline constexpr const char* thread_spin_key = "gasched.thread-spin";
inline constexpr const char* io_spin_key = "gasched.io-spin";
inline const caf::timespan default_thread_spin = std::chrono::microseconds(200);
inline const caf::timespan default_io_spin = std::chrono::microseconds(100);
/// The I/O thread does not poll after an event that ended a sleep this long
/// (epoll_spin.cpp): an idle process's heartbeats cost no polling.
inline constexpr std::chrono::nanoseconds io_spin_quiet_after = std::chrono::milliseconds(10);

/// Makes CAF's scheduler one whose idle threads spin before sleeping
/// (scheduler.policy "sharing"; other policies are CAF's own), and sets the
/// I/O thread's spin from the config when the actor system starts.
void install_spin_wait(caf::actor_system_config& cfg);

/// Its settings' values (check_settings in init.hpp).
caf::error check_spin_wait(const caf::actor_system_config& cfg);

/// Yields the core; false when another thread ran meanwhile (the machine is
/// busy, and spinning on stops helping: stop and sleep).
bool yield_found_core_idle();

/// The process's epoll_wait spin window (process-wide: the last actor
/// system started sets it).
void set_io_spin(caf::timespan window);

} // namespace gasched::detail
