// The journal: throughput with it on and off, and the time to resume.
#include "scenarios.hpp"

#include <filesystem>
#include <iostream>

#include "journal/pg_db.hpp"
#include "pg_throwaway.hpp"

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
  figure cpu_off{"journal", label + ", journal off: this process's CPU", "µs/task", {}, "",
                 "scheduler and client"};
  figure cpu_on{"journal", label + ", " + on + ": this process's CPU", "µs/task", {}, "",
                "scheduler, client and the journal's writer"};
  for (int i = 0; i < c.runs; ++i) {
    off_f.runs.push_back(throughput_run(c.sys, c.opts, n, prefetch, true));
    cpu_off.runs.push_back(last_run_cpu_us_per_task());
    auto file = temp_journal();
    on_f.runs.push_back(throughput_run(c.sys, c.opts, n, prefetch, true, file, {}, sync));
    cpu_on.runs.push_back(last_run_cpu_us_per_task());
    std::remove(file.c_str());
    std::remove((file + "-wal").c_str());
    share.runs.push_back(100.0 * on_f.runs.back() / off_f.runs.back());
  }
  c.add(off_f);
  c.add(on_f);
  c.add(share);
  c.add(cpu_off);
  c.add(cpu_on);
}

// Where the PostgreSQL journal goes: --pg-url, or else a throw-away server
// of this run; why not, when neither can be had.
struct pg_place {
  std::unique_ptr<pg_throwaway> server;
  std::string url;
  std::string why_not;
};

pg_place find_pg(const options& opts) {
  pg_place p;
  if (!opts.pg_url.empty()) {
    p.url = opts.pg_url;
    return p;
  }
  if (!pg_throwaway::available()) {
    p.why_not = "no --pg-url, and no PostgreSQL server programs in "
                + pg_throwaway::bin("") + " to start one";
    return p;
  }
  try {
    p.server = std::make_unique<pg_throwaway>();
    p.url = p.server->fresh_db();
  } catch (const std::exception& e) {
    p.server.reset();
    p.why_not = e.what();
  }
  return p;
}

// gasched's tables dropped: every run starts on an empty journal.
void reset_pg(const std::string& url) {
  detail::pg_db db;
  auto err = db.connect(url);
  if (!err)
    err = db.exec("DROP TABLE IF EXISTS gasched_meta, gasched_fence, gasched_lease, "
                  "gasched_functions, gasched_nodes, gasched_tasks, gasched_ends, "
                  "gasched_news, gasched_done, gasched_states, "
                  "gasched_notes; "
                  "DROP FUNCTION IF EXISTS gasched_fence_check",
                  "cannot drop the tables");
  if (err)
    throw std::runtime_error(describe(err));
}

// At the default settings, no journal, an SQLite file and a PostgreSQL
// database in turns (a shared machine's load falls on all alike), each
// committing durably (fsync; synchronous_commit on).
void journal_stores(context& c, size_t n) {
  auto label = std::to_string(n) + " identity tasks, one batch, default settings, ";
  figure none{"journal", label + "no journal", "tasks/s", {}, "", "in turns with the next two"};
  figure lite{"journal", label + "SQLite journal (fsync)", "tasks/s", {}, "", ""};
  figure pg{"journal", label + "PostgreSQL journal (synchronous_commit on)", "tasks/s", {}, "",
            "the server on the same machine; target >= 50,000 tasks/s"};
  figure lite_share{"journal", label + "SQLite journal / no journal", "%", {}, "", ""};
  figure pg_share{"journal", label + "PostgreSQL journal / no journal", "%", {}, "", ""};
  auto place = find_pg(c.opts);
  if (place.url.empty())
    std::cerr << "  journal / PostgreSQL skipped: " << place.why_not << "\n";
  for (int i = 0; i < c.runs; ++i) {
    none.runs.push_back(throughput_run(c.sys, c.opts, n, adaptive_prefetch, true));
    auto file = temp_journal();
    lite.runs.push_back(throughput_run(c.sys, c.opts, n, adaptive_prefetch, true, file));
    std::remove(file.c_str());
    lite_share.runs.push_back(100.0 * lite.runs.back() / none.runs.back());
    if (place.url.empty())
      continue;
    reset_pg(place.url);
    pg.runs.push_back(throughput_run(c.sys, c.opts, n, adaptive_prefetch, true, place.url));
    pg_share.runs.push_back(100.0 * pg.runs.back() / none.runs.back());
  }
  if (!place.url.empty())
    reset_pg(place.url);
  c.add(none);
  c.add(lite);
  c.add(lite_share);
  if (place.url.empty())
    return;
  c.add(pg);
  c.add(pg_share);
}

} // namespace

void journal(context& c) {
  size_t n = c.opts.quick ? 2000 : 100000;
  journal_stores(c, n);
  journal_pairs(c, n, 0, true);
  journal_pairs(c, n, 10, true);
  journal_pairs(c, n, adaptive_prefetch, true);
  journal_pairs(c, n, 10, false);
  journal_pairs(c, n, adaptive_prefetch, false);
  c.add(journal_resume(c.sys, c.opts.quick ? 20000 : 1000000));
}

} // namespace gasched::bench
