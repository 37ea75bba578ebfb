// gasched-test-node: gasched-node plus the test functions (test.die kills
// its own process, test.sleep holds a slot as long as it is asked, ...),
// for the tests and benchmarks. Never run it where strangers reach it.
#include <memory>

#include "data_dir.hpp"
#include "example_tasks.hpp"
#include "gasched/node.hpp"
#include "gasched/run_node.hpp"

int main(int argc, char** argv) {
  using namespace gasched::examples;
  auto data = std::make_shared<data_dir>();
  gasched::registry reg;
  add_to(reg, data);
  return gasched::run_node(argc, argv, reg,
                           [&data](caf::actor_system_config& cfg) { *data = data_dir::from(cfg); });
}
