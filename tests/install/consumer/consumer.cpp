// Written only against the public contract: nodes, a scheduler, 25 tasks.
#include <gasched/gasched.hpp>

#include <caf/all.hpp>

#include <cstdio>

int main() {
  caf::actor_system_config cfg;
  gasched::init(cfg);
  caf::actor_system sys{cfg};

  gasched::registry reg;
  reg.add("hello.world", [](int32_t n) { return n; });
  auto n1 = gasched::spawn_node(sys, reg, "n1");
  auto n2 = gasched::spawn_node(sys, reg, "n2");

  caf::scoped_actor self{sys};
  gasched::scheduler_options opts;
  opts.name = "test";
  opts.nodes = {n1, n2};
  opts.client = self;
  opts.max_workers = 10;
  opts.max_retries = 10;
  opts.retry_timeout = std::chrono::milliseconds(0);
  auto sched = gasched::spawn_scheduler(sys, opts);
  if (!sched) {
    std::printf("no scheduler: %s\n", gasched::describe(sched.error()).c_str());
    return 1;
  }
  for (int32_t i = 1; i <= 25; ++i)
    self->send(*sched, gasched::execute_atom::value,
               gasched::task{"hello.world", caf::make_message(i)});
  int results = 0, ok = 0, sum = 0;
  bool timed_out = false;
  self->receive_while([&] { return results < 50 && !timed_out; })(
    [&](gasched::task_id) { ++results; },  // the answers to execute
    [&](const gasched::task_result& r) {
      ++results;
      if (r.ok()) {
        ++ok;
        sum += r.value.get_as<int32_t>(0);
      }
    },
    caf::after(std::chrono::seconds(10)) >> [&] { timed_out = true; });
  self->request(*sched, std::chrono::seconds(5), gasched::stop_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->send_exit(n1, caf::exit_reason::user_shutdown);
  self->send_exit(n2, caf::exit_reason::user_shutdown);
  std::printf("%d results, %d ok, sum %d\n", results / 2, ok, sum);
  return timed_out ? 1 : 0;
}
