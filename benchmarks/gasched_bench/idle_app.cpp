// gasched-idle-app: a plain CAF application around the library, as the
// README's "Using the library" writes one: gasched::init, a node in the
// process, a scheduler with a client, and nothing submitted. gasched-bench's
// idle scenario measures what it costs while it waits (its own CPU
// counters, so that nothing of the benchmark's process is counted).
//
//   gasched-idle-app [--caf#key=value ...]   (e.g. --caf#scheduler.policy=stealing)
//
// Prints "ready" once the scheduler is up; stops on SIGTERM or SIGINT.
#include <iostream>

#include <caf/all.hpp>

#include "example_tasks.hpp"
#include "gasched/gasched.hpp"
#include "stop_signal.hpp"

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  if (auto err = gasched::init(cfg)) {
    std::cerr << "gasched-idle-app: " << gasched::describe(err) << "\n";
    return 1;
  }
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "gasched-idle-app: " << cfg.render(err) << "\n";
    return 2;
  }
  auto stop = gasched::block_stop_signals();  // awaited below
  caf::actor_system sys{cfg};
  gasched::registry reg;
  gasched::examples::add_to(reg);
  auto node = gasched::spawn_node(sys, reg, "n1");
  caf::scoped_actor self{sys};
  gasched::scheduler_options opts;
  opts.name = "idle";
  opts.nodes = {node};
  opts.client = self;
  auto sched = gasched::spawn_scheduler(sys, opts);
  if (!sched) {
    std::cerr << "gasched-idle-app: " << gasched::describe(sched.error()) << "\n";
    self->send_exit(node, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::cout << "ready" << std::endl;
  gasched::await_stop_signal(stop);
  self->request(*sched, std::chrono::seconds(5), gasched::stop_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->send_exit(node, caf::exit_reason::user_shutdown);
  return 0;
}
