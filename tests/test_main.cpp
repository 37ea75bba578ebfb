// Catch2's main for every test binary. gasched logs nothing in tests unless
// GASCHED_LOG asks (GASCHED_LOG=debug ctest ...).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "gasched/log.hpp"

int main(int argc, char** argv) {
  if (std::getenv("GASCHED_LOG") == nullptr)
    gasched::set_log_level(gasched::log_level::off);
  return Catch::Session().run(argc, argv);
}
