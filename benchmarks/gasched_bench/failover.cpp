// Failover: a node killed, stopped, or cut from the network and healed.
#include "scenarios.hpp"

#include <signal.h>
#include <memory>
#include <set>
#include <thread>

#include "tcp_proxy.hpp"

namespace gasched::bench {

namespace {

struct failover_result {
  double requeue_ms;
  double all_results_ms;
  size_t results;
};

// One-second tasks on 2 nodes; node1 killed with kill -9 while they run.
failover_result failover_kill(caf::actor_system& sys, const options& opts, size_t n,
                              int32_t task_ms) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, c.self());
  std::vector<task> ts;
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.sleep", caf::make_message(static_cast<int32_t>(i), task_ms)});
  c.self()->send(sched, execute_atom::value, std::move(ts));
  while (c.stats(sched).running < std::min<size_t>(n, 20))
    std::this_thread::yield();
  auto lost = c.stats(sched).worker_nodes;
  uint64_t on_node1 = 0;
  for (auto& w : lost)
    if (w.node == "node1")
      on_node1 = w.running;
  auto t0 = clock_type::now();
  c.process(0).process.kill();
  while (c.stats(sched).requeued < on_node1)
    ;  // poll as fast as the scheduler answers
  auto requeue_ms = ms_since(t0);
  auto got = c.results(n);
  std::set<task_id> ids;
  for (auto& r : got)
    if (r.ok())
      ids.insert(r.id);
  return {requeue_ms, ms_since(t0), ids.size()};
}

// A node stopped with kill -STOP: time until the scheduler declares it down.
double failover_stop(caf::actor_system& sys, const options& opts) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, c.self());
  auto t0 = clock_type::now();
  c.process(0).process.signal(SIGSTOP);
  while (c.stats(sched).worker_node_count == 2) {
    if (seconds_since(t0) > 30)
      throw std::runtime_error("kill -STOP: never declared down");
    std::this_thread::sleep_for(1ms);
  }
  return ms_since(t0);
}

// A node joined through a fault-injecting proxy; the link is cut for `cut`
// while a task waits for it. The time from the heal until that task's result
// is here: the rejoin, plus one task's round trip.
double rejoin_after_cut(caf::actor_system& sys, const options& opts, caf::timespan cut) {
  caf::scoped_actor self{sys};
  scheduler_options o;
  o.client = self;
  o.retry_timeout = 0s;
  auto sched = spawn_scheduler(sys, o);
  if (!sched)
    throw std::runtime_error(describe(sched.error()));
  auto guard = std::shared_ptr<void>(nullptr, [&](void*) {
    self->send_exit(*sched, caf::exit_reason::user_shutdown);
  });
  auto port = publish(sys, *sched, 0);
  if (!port)
    throw std::runtime_error(describe(port.error()));
  testing::tcp_proxy proxy{*port};
  auto node = tools::start_node(
    opts.node_program,
    {"--port", "0", "--name", "cut", "--join", "127.0.0.1:" + std::to_string(proxy.port())},
    20s, true);
  auto wait_nodes = [&](uint32_t n) {
    auto t0 = clock_type::now();
    for (;;) {
      stats st;
      self->request(*sched, 10s, stats_atom::value)
        .receive([&](stats& x) { st = std::move(x); },
                 [](caf::error& e) { throw std::runtime_error(describe(e)); });
      if (st.worker_node_count == n)
        return;
      if (seconds_since(t0) > 30)
        throw std::runtime_error("rejoin: the node count never became " + std::to_string(n));
      std::this_thread::sleep_for(1ms);
    }
  };
  wait_nodes(1);
  auto cut_at = clock_type::now();
  proxy.blackhole();
  wait_nodes(0);
  self->send(*sched, execute_atom::value, task{"test.node_name", {}});
  std::this_thread::sleep_until(cut_at + cut);
  auto healed = clock_type::now();
  proxy.pass();
  double took = -1;
  self->receive_while([&] { return took < 0; })(
    [&](task_result& r) {
      if (!r.ok() || r.node != "cut")
        throw std::runtime_error("rejoin: the task did not run on the rejoined node");
      took = ms_since(healed);
    },
    [](task_id) {}, caf::after(30s) >> [&] { took = 30000; });
  return took;
}

} // namespace

void failover(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 20 : 100;
  int32_t ms = q ? 200 : 1000;
  figure requeue{"failover", "kill -9: tasks back in pending after", "ms", {}, "14", ""};
  figure done{"failover", "kill -9: all " + std::to_string(n) + " results after", "ms",
              {}, "9,500", ""};
  figure count{"failover", "kill -9: distinct results", "", {}, "100, no duplicates", ""};
  for (int i = 0; i < c.runs; ++i) {
    auto r = failover_kill(c.sys, c.opts, n, ms);
    requeue.runs.push_back(r.requeue_ms);
    done.runs.push_back(r.all_results_ms);
    count.runs.push_back(static_cast<double>(r.results));
  }
  c.add(requeue);
  c.add(done);
  c.add(count);
  c.repeat({"failover", "kill -STOP: declared down after", "ms", {}, "60,000 (net_ticktime)",
            "default heartbeat 200 ms, timeout 1 s"},
           [&] { return failover_stop(c.sys, c.opts); });
  // Median of at least 5: the pause between join attempts is random.
  figure rejoin{"failover", "link cut 3 s, healed: first task on the rejoined node after",
                "ms", {}, "", "heal -> result of a task that waited for it"};
  for (int i = 0; i < std::max(c.runs, q ? 1 : 5); ++i)
    rejoin.runs.push_back(rejoin_after_cut(c.sys, c.opts, q ? 1500ms : 3s));
  c.add(rejoin);
}

} // namespace gasched::bench
