// A randomized test of scheduler_core against a reference model.
//
// Thousands of random events (execute, success, failure, node down, node up,
// set_max_workers, cancel, late results, dispatch, journal commits, and
// restarts of the scheduler from its journal, clean or after a crash that
// loses what was not committed) are applied both to the core and to a plain
// model (core_random_run.hpp) written from gascheduler's semantics; after
// EACH event every observable part of the core, and the journal's kept
// results, must equal the model. The seed is printed; GASCHED_SEED=<n>
// reruns the same runs:
//   GASCHED_SEED=123 build/tests/gasched_core_tests "[random]"
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <unistd.h>

#include "core_random_run.hpp"

using namespace gasched::core_random;

namespace {

constexpr int runs = 20;

uint64_t base_seed() {
  if (auto env = std::getenv("GASCHED_SEED"))
    return std::strtoull(env, nullptr, 10);
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

} // namespace

TEST_CASE("scheduler_core matches the model under random events", "[core][random]") {
  auto base = base_seed();
  WARN("core random test: " << runs << " runs x " << events_per_run
                            << " events, seeds GASCHED_SEED=" << base << " + run");
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  // In memory where there is a tmpfs: the journal's fsyncs are not under test.
  std::string name = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  name += "/gasched-random-XXXXXX";
  std::string dir = ::mkdtemp(name.data());
  struct remove_at_end {
    std::string dir;
    ~remove_at_end() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  uint64_t tasks = 0;
  for (int run = 0; run < runs; ++run) {
    auto seed = base + static_cast<uint64_t>(run);
    INFO("GASCHED_SEED=" << base << ", run " << run << ", seed " << seed);
    random_run r{seed, sys, dir + "/run-" + std::to_string(run) + ".db"};
    try {
      for (int event = 0; event < events_per_run; ++event)
        r.step(event);
      r.drain();
    } catch (const mismatch& e) {
      FAIL("seed " << seed << ", " << r.where() << ": " << e.what());
    }
    tasks += r.tasks();
  }
  CHECK(tasks > 0);
}
