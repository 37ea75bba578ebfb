// The journal: throughput with it on and off, and the time to resume.
#include "scenarios.hpp"

#include <filesystem>
#include <iostream>

namespace gasched::bench {

namespace {

// n pending tasks (no node) journaled by one scheduler, then a second one
// started on the file: how long spawn_scheduler takes to resume them.
figure journal_resume(caf::actor_system& sys, size_t n) {
  auto file = temp_journal();
  caf::scoped_actor self{sys};
  scheduler_options o;
  o.journal = file;
  o.journal_sync = false;
  {
    auto first = spawn_scheduler(sys, o);
    if (!first)
      throw std::runtime_error(describe(first.error()));
    for (size_t done = 0; done < n; done += 10000)
      self->request(*first, 60s, execute_atom::value, identity_tasks(std::min<size_t>(10000, n - done)))
        .receive([](std::vector<task_id>&) {},
                 [](caf::error& e) { throw std::runtime_error(describe(e)); });
    self->send_exit(*first, caf::exit_reason::kill);
    self->wait_for(*first);
  }
  auto bytes = std::filesystem::file_size(file);
  auto t0 = clock_type::now();
  auto second = spawn_scheduler(sys, o);
  auto ms = ms_since(t0);
  if (!second)
    throw std::runtime_error(describe(second.error()));
  self->send_exit(*second, caf::exit_reason::kill);
  self->wait_for(*second);
  std::remove(file.c_str());
  std::remove((file + "-wal").c_str());
  std::remove((file + "-shm").c_str());
  std::cerr << "  journal / bytes per pending task: " << static_cast<double>(bytes) / n << "\n";
  return figure{"journal", "resume " + std::to_string(n) + " pending tasks", "ms", {ms}, "",
                fmt_value(static_cast<double>(bytes) / static_cast<double>(n))
                  + " journal bytes per pending task"};
}

} // namespace

void journal(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 2000 : 100000;
  auto label = std::to_string(n) + " identity tasks, one batch";
  for (uint32_t prefetch : {0u, 10u}) {
    auto p = std::to_string(prefetch);
    c.repeat({"journal", label + ", prefetch " + p + ", journal off", "tasks/s", {}, "", ""},
             [&] { return throughput_run(c.sys, c.opts, n, prefetch, true); });
    c.repeat({"journal", label + ", prefetch " + p + ", journal on (fsync)", "tasks/s", {}, "",
              "one transaction per drained mailbox"},
             [&] {
               auto file = temp_journal();
             auto rate = throughput_run(c.sys, c.opts, n, prefetch, true, file);
             std::remove(file.c_str());
             return rate;
           });
  }
  c.add(journal_resume(c.sys, q ? 20000 : 1000000));
}

} // namespace gasched::bench
