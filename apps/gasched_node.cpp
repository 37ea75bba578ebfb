// gasched-node: the stock node program. It offers only what is safe to
// expose: the README's examples and events.aggregate, which touches files
// only inside the node's --data-dir. (gasched-test-node adds the test
// functions.) A node program of your own is the same lines with your registry.
#include <memory>

#include "data_dir.hpp"
#include "event_job/event_tasks.hpp"
#include "example_tasks.hpp"
#include "gasched/node.hpp"
#include "gasched/run_node.hpp"

int main(int argc, char** argv) {
  using namespace gasched::examples;
  auto data = std::make_shared<data_dir>();
  gasched::registry reg;
  add_demo_functions(reg);
  add_event_tasks(reg, data);
  // Filled before the node runs a task: run_node calls this first.
  return gasched::run_node(argc, argv, reg,
                           [&data](caf::actor_system_config& cfg) { *data = data_dir::from(cfg); });
}
