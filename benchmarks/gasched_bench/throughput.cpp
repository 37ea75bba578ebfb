// Throughput: identity tasks as fast as the API allows, with the default
// (adaptive) prefetch and fixed ones; 5 ms tasks against what 20 slots allow.
#include "scenarios.hpp"

#include <memory>

#include <sys/resource.h>

namespace gasched::bench {

namespace {

double last_cpu_us_per_task = 0;

double cpu_us() {
  rusage r;
  getrusage(RUSAGE_SELF, &r);
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return us(r.ru_utime) + us(r.ru_stime);
}

} // namespace

double last_run_cpu_us_per_task() {
  return last_cpu_us_per_task;
}

double throughput_run(caf::actor_system& sys, const options& opts, size_t n,
                      uint32_t prefetch, bool batch, const std::string& journal,
                      const watch_fn& watch, bool journal_sync) {
  bench_cluster c{sys, opts, 2};
  counting_client client{sys, n};
  auto sched = c.scheduler(10, client.actor(), prefetch, journal, journal_sync);
  auto watching = watch ? watch(sched) : nullptr;
  auto tasks = identity_tasks(n);
  auto cpu0 = cpu_us();
  auto t0 = clock_type::now();
  if (batch) {
    c.self()->send(sched, execute_atom::value, std::move(tasks));
  } else {
    for (auto& t : tasks)
      c.self()->send(sched, execute_atom::value, std::move(t));
  }
  client.done();
  auto secs = seconds_since(t0);
  last_cpu_us_per_task = (cpu_us() - cpu0) / static_cast<double>(n);
  return static_cast<double>(n) / secs;
}

namespace {

// Tasks of 5 ms on 20 slots: tasks/s against the 4,000/s that 20 slots allow
// (as gascheduler's reference), and the share of slot time spent inside tasks
// (each task reports how long it really slept).
struct utilisation_result {
  double nominal_percent;
  double busy_percent;
};

utilisation_result utilisation_5ms(caf::actor_system& sys, const options& opts, size_t n,
                                   uint32_t prefetch) {
  bench_cluster c{sys, opts, 2};
  auto busy_us = std::make_shared<double>(0);
  caf::scoped_actor waiter{sys};
  auto client = sys.spawn([=, w = caf::actor{waiter}](caf::event_based_actor* self) {
    auto got = std::make_shared<size_t>(0);
    return caf::behavior{
      [=](task_result& r) {
        if (r.ok())
          *busy_us += static_cast<double>(r.value.get_as<int64_t>(0));
        if (++*got == n) {
          self->send(w, caf::ok_atom::value);
          self->quit();
        }
      },
      [](std::vector<task_id>&) {},
    };
  });
  auto sched = c.scheduler(10, client, prefetch);
  std::vector<task> ts;
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.sleep_timed", caf::make_message(int32_t{5})});
  auto t0 = clock_type::now();
  c.self()->send(sched, execute_atom::value, std::move(ts));
  bool done = false;
  waiter->receive([&](caf::ok_atom) { done = true; }, caf::after(120s) >> [] {});
  if (!done)
    throw std::runtime_error("5 ms tasks: results did not all arrive in time");
  auto elapsed = seconds_since(t0);
  return {100.0 * static_cast<double>(n) * 0.005 / (elapsed * 20.0),
          100.0 * (*busy_us / 1e6) / (elapsed * 20.0)};
}

} // namespace

void throughput(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 2000 : 100000;
  auto label = std::to_string(n) + " identity tasks";
  c.repeat({"throughput", label + ", one batch, default settings (adaptive prefetch)",
            "tasks/s", {}, "11,309", "nothing tuned"},
           [&] { return throughput_run(c.sys, c.opts, n, adaptive_prefetch, true); });
  c.repeat({"throughput", label + ", one batch, prefetch 0", "tasks/s", {},
            "11,309 (100,000 tasks)", "a node holds only what it runs, as gascheduler"},
           [&] { return throughput_run(c.sys, c.opts, n, 0, true); });
  c.repeat({"throughput", label + ", one batch, prefetch 10", "tasks/s", {}, "11,309",
            "a node holds 10 x (1 + 10) tasks, runs 10"},
           [&] { return throughput_run(c.sys, c.opts, n, 10, true); });
  c.repeat({"throughput", label + ", one execute each, prefetch 10", "tasks/s", {},
            "11,309", ""},
           [&] { return throughput_run(c.sys, c.opts, n, 10, false); });
  size_t m = q ? 200 : 4000;
  for (uint32_t prefetch : {adaptive_prefetch, 0u, 1u}) {
    auto label = std::to_string(m) + " tasks of 5 ms, prefetch "
                 + (prefetch == adaptive_prefetch ? std::string{"adaptive (default)"}
                                                           : std::to_string(prefetch));
    figure nominal{"throughput", label + ": of the 4,000 tasks/s 20 slots allow", "%",
                   {}, "83 % (3,305 tasks/s)", ""};
    figure busy{"throughput", label + ": slot time spent in tasks", "%", {}, "", ""};
    for (int i = 0; i < c.runs; ++i) {
      auto r = utilisation_5ms(c.sys, c.opts, m, prefetch);
      nominal.runs.push_back(r.nominal_percent);
      busy.runs.push_back(r.busy_percent);
    }
    c.add(nominal);
    c.add(busy);
  }
}

} // namespace gasched::bench
