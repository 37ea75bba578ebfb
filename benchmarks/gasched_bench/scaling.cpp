// Scaling: the scheduler's own time per task as nodes grow, with in-process
// nodes that answer at once.
#include "scenarios.hpp"

#include "wire.hpp"

namespace gasched::bench {

namespace {

// An in-process node that answers every order at once: the value is the argument.
caf::behavior instant_node(caf::event_based_actor* self, std::string name) {
  return {
    [=](hello_atom) { return detail::node_info{name, 0}; },
    [=](run_atom, detail::run_batch& batch) {
      detail::done_batch done;
      done.outcomes.reserve(batch.orders.size());
      for (auto& o : batch.orders)
        done.outcomes.push_back({o.id, o.epoch, std::move(o.args), caf::error{}});
      self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                 done_atom::value, std::move(done));
    },
    [](cancel_atom, task_id, uint32_t) {},
  };
}

// Wall time per task with `nodes` instant nodes: what the scheduler spends.
double dispatch_cost_us(caf::actor_system& sys, size_t nodes, size_t n) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> fake;
  for (size_t i = 0; i < nodes; ++i)
    fake.push_back(sys.spawn(instant_node, "instant" + std::to_string(i)));
  scheduler_options o;
  o.nodes = fake;
  o.client = self;
  o.max_workers = 10;
  auto sched = spawn_scheduler(sys, o);
  if (!sched)
    throw std::runtime_error(describe(sched.error()));
  auto tasks = identity_tasks(n);
  auto t0 = clock_type::now();
  self->send(*sched, execute_atom::value, std::move(tasks));
  size_t got = 0;
  self->receive_while([&] { return got < n; })([&](task_result&) { ++got; },
                                               [](std::vector<task_id>&) {});
  auto us = seconds_since(t0) * 1e6 / static_cast<double>(n);
  self->send_exit(*sched, caf::exit_reason::user_shutdown);
  for (auto& f : fake)
    self->send_exit(f, caf::exit_reason::user_shutdown);
  return us;
}

} // namespace

void scaling(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 5000 : 200000;
  for (size_t nodes : {2, 16, 64, 256})
    c.repeat({"scaling", "scheduler time per task, " + std::to_string(nodes)
                           + " instant nodes",
              "us", {}, nodes == 2 ? "grows with nodes x running" : "", ""},
             [&] { return dispatch_cost_us(c.sys, nodes, n); });
}

} // namespace gasched::bench
