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

// One setting: journal off and on in turns (a shared machine's load falls on
// both alike), and on / off of each pair.
void journal_pairs(context& c, size_t n, uint32_t prefetch, bool sync) {
  auto p = prefetch == adaptive_prefetch ? std::string{"default (adaptive)"}
                                         : std::to_string(prefetch);
  auto label = std::to_string(n) + " identity tasks, one batch, prefetch " + p;
  auto on = sync ? std::string{"journal on (fsync)"} : std::string{"journal on (no fsync)"};
  figure off_f{"journal", label + ", journal off", "tasks/s", {}, "", "in turns with the next"};
  figure on_f{"journal", label + ", " + on, "tasks/s", {}, "",
              "one transaction per commit on the journal's thread"};
  figure share{"journal", label + ", " + on + " / off", "%", {}, "",
               sync ? "target >= 80 %" : "target >= 90 %"};
  for (int i = 0; i < c.runs; ++i) {
    off_f.runs.push_back(throughput_run(c.sys, c.opts, n, prefetch, true));
    auto file = temp_journal();
    on_f.runs.push_back(throughput_run(c.sys, c.opts, n, prefetch, true, file, {}, sync));
    std::remove(file.c_str());
    share.runs.push_back(100.0 * on_f.runs.back() / off_f.runs.back());
  }
  c.add(off_f);
  c.add(on_f);
  c.add(share);
}

} // namespace

void journal(context& c) {
  size_t n = c.opts.quick ? 2000 : 100000;
  journal_pairs(c, n, 0, true);
  journal_pairs(c, n, 10, true);
  journal_pairs(c, n, adaptive_prefetch, true);
  journal_pairs(c, n, 10, false);
  journal_pairs(c, n, adaptive_prefetch, false);
  c.add(journal_resume(c.sys, c.opts.quick ? 20000 : 1000000));
}

} // namespace gasched::bench
