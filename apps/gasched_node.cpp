// gasched-node: the stock node program, with the example task functions.
// A node program of your own is the same three lines with your registry.
#include "example_tasks.hpp"
#include "gasched/node.hpp"

int main(int argc, char** argv) {
  gasched::registry reg;
  gasched::examples::add_to(reg);
  return gasched::run_node(argc, argv, reg);
}
