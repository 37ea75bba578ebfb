// Many nodes at the actor level: one scheduler (in this process) with 1,000
// node actors joined over loopback from a few processes, 1,000,000 identity
// tasks, every result checked to arrive exactly once with its value; the
// scheduler process's CPU per task beside the same batch on 2 nodes.
#include "scenarios.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <thread>

namespace gasched::bench {

namespace {

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

struct many_nodes_run {
  double tasks_per_s = 0;
  double cpu_us_per_task = 0;
};

// `procs` processes of `per_proc` node actors with `slots` slots each.
many_nodes_run run_many(caf::actor_system& sys, size_t procs,
                        size_t per_proc, uint32_t slots, size_t n) {
  caf::scoped_actor self{sys};
  scheduler_options so;
  so.client = self;
  auto sched = spawn_scheduler(sys, so);
  if (!sched)
    throw std::runtime_error("nodes: " + describe(sched.error()));
  auto stop_sched = [&] { self->send_exit(*sched, caf::exit_reason::user_shutdown); };
  auto port = publish(sys, *sched, 0);
  if (!port) {
    stop_sched();
    throw std::runtime_error("nodes: " + describe(port.error()));
  }
  std::vector<tools::child_process> children;
  for (size_t p = 0; p < procs; ++p)
    children.push_back(tools::child_process::start(
      {self_dir() + "/gasched-bench-nodes", "127.0.0.1", std::to_string(*port),
       std::to_string(per_proc), std::to_string(slots)},
      true));
  auto want = procs * per_proc;
  auto deadline = clock_type::now() + 120s;
  for (;;) {
    uint32_t up = 0;
    self->request(*sched, 5s, stats_atom::value)
      .receive([&](gasched::stats& s) { up = s.worker_node_count; }, [](caf::error&) {});
    if (up == want)
      break;
    if (clock_type::now() > deadline) {
      stop_sched();
      throw std::runtime_error("nodes: " + std::to_string(up) + " of " + std::to_string(want)
                               + " nodes joined within 120 s");
    }
    std::this_thread::sleep_for(50ms);  // polling stats: nothing to await
  }
  std::vector<uint8_t> seen(n + 1, 0);
  auto cpu0 = process_cpu_seconds();
  auto t0 = clock_type::now();
  constexpr size_t batch = 10000;
  for (size_t sent = 0; sent < n; sent += batch) {
    std::vector<task> ts;
    for (size_t i = sent; i < std::min(n, sent + batch); ++i)
      ts.push_back(task{"test.identity", caf::make_message(static_cast<int32_t>(i))});
    self->send(*sched, execute_atom::value, std::move(ts));
  }
  size_t got = 0;
  std::string wrong;
  self->receive_while([&] { return got < n; })(
    [&](task_result& r) {
      ++got;
      auto ok = r.ok() && r.value.match_elements<int32_t>()
                && r.task.args.match_elements<int32_t>()
                && r.value.get_as<int32_t>(0) == r.task.args.get_as<int32_t>(0) && r.id <= n
                && seen[r.id]++ == 0;
      if (!ok && wrong.empty())
        wrong = "task " + std::to_string(r.id) + " came back wrong or twice";
    },
    [](std::vector<task_id>&) {},
    caf::after(std::chrono::seconds(60)) >> [&] {
      wrong = "no result for 60 s after " + std::to_string(got);
      got = n;
    });
  many_nodes_run out;
  auto secs = seconds_since(t0);
  out.tasks_per_s = static_cast<double>(n) / secs;
  out.cpu_us_per_task = (process_cpu_seconds() - cpu0) * 1e6 / static_cast<double>(n);
  stop_sched();
  for (auto& c : children)
    c.signal(SIGTERM);
  for (auto& c : children)
    c.wait_exit(10s);
  if (!wrong.empty())
    throw std::runtime_error("nodes: " + wrong);
  return out;
}

} // namespace

void many_nodes(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 5000 : 1000000;
  size_t procs = q ? 2 : 4;
  size_t per_proc = q ? 10 : 250;
  auto total = std::to_string(procs * per_proc);
  figure rate{"nodes", total + " node actors (1 slot each) in " + std::to_string(procs)
                         + " processes, " + std::to_string(n) + " identity tasks",
              "tasks/s", {}, "", "every result once, with its value"};
  figure cpu{"nodes", "scheduler process CPU per task, " + total + " nodes", "us", {}, "",
             "the client is in the same process"};
  figure rate2{"nodes", "the same batch on 2 nodes of 10 slots", "tasks/s", {}, "", ""};
  figure cpu2{"nodes", "scheduler process CPU per task, 2 nodes", "us", {}, "", ""};
  for (int i = 0; i < c.runs; ++i) {
    auto many = run_many(c.sys, procs, per_proc, 1, n);
    auto two = run_many(c.sys, 2, 1, 10, n);
    rate.runs.push_back(many.tasks_per_s);
    cpu.runs.push_back(many.cpu_us_per_task);
    rate2.runs.push_back(two.tasks_per_s);
    cpu2.runs.push_back(two.cpu_us_per_task);
  }
  c.add(rate);
  c.add(cpu);
  c.add(rate2);
  c.add(cpu2);
}

} // namespace gasched::bench
