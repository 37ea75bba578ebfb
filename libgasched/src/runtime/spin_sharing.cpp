#include "runtime/spin_sharing.hpp"

#include <sched.h>

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/settings.hpp>

#include "gasched/errc.hpp"
#include "logging.hpp"
#include "runtime/lazy_clock.hpp"
#include "runtime/spin_wait.hpp"

namespace gasched::detail {

bool yield_found_core_idle() {
  // sched_yield returns at once when no other thread wants this core; when
  // one ran instead, the machine is busy: a thread that keeps polling then
  // queues behind the others each time, and a sleeping one, woken, goes
  // first (measured: p99 of a round trip 3-30 ms instead of 0.3-3.6 ms
  // under a load average of 15 on 2 cores).
  auto before = std::chrono::steady_clock::now();
  sched_yield();
  return std::chrono::steady_clock::now() - before < std::chrono::microseconds(20);
}

bool spin_until_ready(caf::timespan window, const std::atomic<size_t>& ready) {
  if (window.count() <= 0)
    return false;
  auto until = std::chrono::steady_clock::now() + window;
  do {
    if (ready.load(std::memory_order_acquire) != 0)
      return true;
    if (!yield_found_core_idle())
      break;
  } while (std::chrono::steady_clock::now() < until);
  return ready.load(std::memory_order_acquire) != 0;
}

caf::error check_spin_wait(const caf::actor_system_config& cfg) {
  auto value = caf::get_or(cfg, io_actors_key, caf::atom("idle"));
  if (value == caf::atom("idle") || value == caf::atom("never"))
    return caf::none;
  return make_error(errc::invalid_argument, std::string{io_actors_key} + "="
                                              + caf::to_string(value)
                                              + ": it takes idle or never");
}

namespace {

// A value check_spin_wait refuses is warned of, and idle used.
bool io_actors_from(const caf::actor_system_config& cfg) {
  if (auto err = check_spin_wait(cfg)) {
    log(log_level::warning, "{}: idle is used", describe(err));
    return true;
  }
  return caf::get_or(cfg, io_actors_key, caf::atom("idle")) != caf::atom("never");
}

} // namespace

spin_sharing::coordinator_data::coordinator_data(caf::scheduler::abstract_coordinator* parent)
  : spin(caf::get_or(parent->system().config(), thread_spin_key, default_thread_spin)),
    io_actors(io_actors_from(parent->system().config())) {
}

namespace {

// CAF's coordinator for the policy, with the lazy clock (lazy_clock.hpp).
// CAF's own clock thread still starts and sleeps: nothing is ever queued
// for it.
class spin_coordinator final : public caf::scheduler::coordinator<spin_sharing> {
public:
  using super = caf::scheduler::coordinator<spin_sharing>;
  using super::super;

  lazy_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    timer_ = std::thread{[this] {
      caf::detail::set_thread_name("gasched.clock");
      system().thread_started();
      clock_.run();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    super::stop();
    clock_.stop();
    timer_.join();
  }

private:
  lazy_clock clock_;
  std::thread timer_;
};

caf::actor_system::module* make_scheduler(caf::actor_system& sys) {
  using namespace caf::scheduler;
  auto& cfg = sys.config();
  set_io_spin(caf::get_or(cfg, io_spin_key, default_io_spin));
  auto policy = caf::get_or(cfg, "scheduler.policy", caf::atom("sharing"));
  if (policy == caf::atom("sharing"))
    return new spin_coordinator(sys);
  if (policy == caf::atom("testing"))
    return new test_coordinator(sys);
  return new coordinator<caf::policy::work_stealing>(sys);
}

// CAF keeps the options a command line may set in a protected member.
struct option_access : caf::actor_system_config {
  static caf::config_option_set& of(caf::actor_system_config& cfg) {
    return cfg.*(&option_access::custom_options_);
  }
};

} // namespace

void install_spin_wait(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(make_scheduler);
  caf::config_option_adder{option_access::of(cfg), "gasched"}
    .add<caf::timespan>("thread-spin",
                        "how long an idle CAF thread polls for work before it sleeps")
    .add<caf::timespan>("io-spin",
                        "how long CAF's I/O thread polls its sockets before it sleeps")
    .add<caf::atom_value>("io-actors",
                          "idle: actors the I/O thread wakes run on it while it is idle; "
                          "never: always on CAF's threads");
}

} // namespace gasched::detail
