// Memory: what a pending task costs the scheduler, and how fast tasks are accepted.
#include "scenarios.hpp"

#include <malloc.h>

namespace gasched::bench {

namespace {

// Bytes the heap has handed out, counting blocks large enough for glibc to
// map them on their own (hblkhd), which uordblks leaves out.
size_t heap_in_use() {
  auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

struct memory_result {
  double bytes_per_task;
  double enqueue_rate;
};

// Pending tasks with no free slot (max_workers 0): heap bytes per task and
// how fast they are accepted, submitted in batches of 10,000 or one by one.
memory_result memory_run(caf::actor_system& sys, const options& opts, size_t n,
                         bool batched, bool string_args = false) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(0, nullptr);
  malloc_trim(0);
  auto before = heap_in_use();
  constexpr size_t batch = 10000;
  auto t0 = clock_type::now();
  size_t acked = 0;
  if (batched) {
    for (size_t done = 0; done < n; done += batch) {
      std::vector<task> ts;
      ts.reserve(batch);
      for (size_t i = done; i < std::min(n, done + batch); ++i)
        ts.push_back(string_args
                       ? task{"test.identity", caf::make_message("arg-" + std::to_string(i)
                                                                 + "-padded-past-sso")}
                       : task{"test.identity",
                              caf::make_message(static_cast<int32_t>(i))});
      c.self()->send(sched, execute_atom::value, std::move(ts));
    }
    c.self()->receive_for(acked, (n + batch - 1) / batch)(
      [](std::vector<task_id>&) {});
  } else {
    for (size_t i = 0; i < n; ++i)
      c.self()->send(sched, execute_atom::value,
                     task{"test.identity", caf::make_message(static_cast<int32_t>(i))});
    c.self()->receive_for(acked, n)([](task_id) {});
  }
  auto rate = static_cast<double>(n) / seconds_since(t0);
  if (c.stats(sched).pending != n)
    throw std::runtime_error("memory: not every task is pending");
  auto after = heap_in_use();
  return {static_cast<double>(after - before) / static_cast<double>(n), rate};
}

} // namespace

void memory(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 20000 : 1000000;
  figure bytes{"memory", "scheduler bytes per pending one-int task, "
                           + std::to_string(n) + " pending",
               "B", {}, "97 (71 after GC)", "heap in use (mallinfo2 uordblks + hblkhd) after / before"};
  figure rate{"memory", "enqueue rate, batches of 10,000", "tasks/s", {}, "550,000", ""};
  for (int i = 0; i < c.runs; ++i) {
    auto r = memory_run(c.sys, c.opts, n, true);
    bytes.runs.push_back(r.bytes_per_task);
    rate.runs.push_back(r.enqueue_rate);
  }
  c.add(bytes);
  c.add(rate);
  c.repeat({"memory", "enqueue rate, one execute each", "tasks/s", {}, "550,000", ""},
           [&] { return memory_run(c.sys, c.opts, n, false).enqueue_rate; });
  c.repeat({"memory", "bytes per pending task with a 25-char string argument", "B", {},
            "", "stored by reference, not inline"},
           [&] { return memory_run(c.sys, c.opts, n / 4, true, true).bytes_per_task; });
}

} // namespace gasched::bench
