// gasched-bench-nodes: many node actors in one process, each joined to the
// scheduler at HOST:PORT, for the "nodes" scenario (1,000 node actors from a
// few processes). They share the process's one connection to the scheduler,
// as nodes of one machine would share its network.
//
//   gasched-bench-nodes HOST PORT COUNT SLOTS [--caf#key=value ...]
//
// Prints "ready" once the nodes are spawned; stops on SIGTERM or SIGINT.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "example_tasks.hpp"
#include "gasched/gasched.hpp"
#include "stop_signal.hpp"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: gasched-bench-nodes HOST PORT COUNT SLOTS [--caf#key=value ...]\n";
    return 2;
  }
  std::string host = argv[1];
  auto port = static_cast<uint16_t>(std::stoul(argv[2]));
  auto count = std::stoul(argv[3]);
  auto slots = static_cast<uint32_t>(std::stoul(argv[4]));
  caf::actor_system_config cfg;
  if (auto err = gasched::init(cfg)) {
    std::cerr << "gasched-bench-nodes: " << gasched::describe(err) << "\n";
    return 1;
  }
  if (auto err = cfg.parse(argc - 4, argv + 4)) {
    std::cerr << "gasched-bench-nodes: " << cfg.render(err) << "\n";
    return 2;
  }
  auto stop = gasched::block_stop_signals();  // awaited below
  caf::actor_system sys{cfg};
  gasched::registry reg;
  gasched::examples::add_to(reg);
  std::vector<caf::actor> nodes;
  for (unsigned long i = 0; i < count; ++i) {
    gasched::node_options o;
    o.name = "bench-" + std::to_string(getpid()) + "-" + std::to_string(i);
    o.slots = slots;
    o.join_host = host;
    o.join_port = port;
    o.serve_any = false;
    nodes.push_back(gasched::spawn_node(sys, reg, o));
  }
  std::cout << "ready" << std::endl;
  gasched::await_stop_signal(stop);
  for (auto& n : nodes)
    caf::anon_send_exit(n, caf::exit_reason::user_shutdown);
  return 0;
}
