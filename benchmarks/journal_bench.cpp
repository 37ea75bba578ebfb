// What the journal costs at the core level: scheduler_core alone, and with
// journal/durable_journal, in the same run; the journal's bytes per task; and
// how long a restart takes to resume a million pending tasks. Prints a table
// and the command that made it.
//
//   build/benchmarks/gasched-journal-bench [--tasks N] [--batch N] [--dir DIR]
//                                          [--pg-url URL]
//
// --tasks: tasks per scenario and pending tasks to resume (1,000,000);
// --batch: changes per commit, as a scheduler commits once per drained
// mailbox (1,000); --dir: where the journal files go (/tmp); --pg-url: also
// the same on a PostgreSQL journal (its gasched tables are dropped before each
// scenario and at the end: give it a database of its own).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/make_message.hpp>

#include "core/scheduler_core.hpp"
#include "gasched/errc.hpp"
#include "journal/durable_journal.hpp"
#include "journal/pg_db.hpp"

using namespace gasched;
using namespace gasched::detail;

namespace {

using clock_type = std::chrono::steady_clock;

struct settings {
  size_t tasks = 1000000;
  size_t batch = 1000;
  std::string dir = "/tmp";
  std::string pg_url;
};

enum class mode { off, sync, no_sync };

const char* label(mode m) {
  return m == mode::off ? "journal off" : m == mode::sync ? "on, fsync" : "on, no fsync";
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

[[noreturn]] void die(const caf::error& err) {
  std::fprintf(stderr, "gasched-journal-bench: %s\n", describe(err).c_str());
  std::exit(1);
}

// An empty PostgreSQL database again (gasched's tables only).
void reset_pg(const std::string& url) {
  pg_db db;
  if (auto err = db.connect(url))
    die(err);
  if (auto err = db.exec("DROP TABLE IF EXISTS gasched_meta, gasched_fence, gasched_lease, "
                         "gasched_functions, gasched_nodes, gasched_tasks, gasched_ends, "
                         "gasched_news, gasched_done, gasched_states, "
                         "gasched_notes; "
                         "DROP FUNCTION IF EXISTS gasched_fence_check",
                         "cannot drop the tables"))
    die(err);
}

void remove_journal(const std::string& path) {
  if (is_pg_url(path))
    reset_pg(path);
  else
    std::filesystem::remove(path);
}

// A core as the scheduler actor runs it, on a new journal unless `m` is off.
struct bench_core {
  std::unique_ptr<durable_journal> journal;
  scheduler_core core{core_limits{10, 0, 3}};
  size_t changes = 0;
  size_t batch;

  bench_core(caf::actor_system& sys, mode m, const std::string& path, size_t batch_size)
    : batch(batch_size) {
    if (m == mode::off)
      return;
    remove_journal(path);
    journal_options opts;
    opts.sync_every_commit = m == mode::sync;
    auto j = durable_journal::open(sys, path, opts);
    if (!j)
      die(j.error());
    journal = std::move(*j);
    core.restore(journal->take_snapshot());
    core.set_journal(journal.get());
  }

  // Once per `batch` tasks, as once per drained mailbox.
  void tick() {
    if (journal && ++changes % batch == 0)
      if (auto err = journal->commit())
        die(err);
  }

  void finish() {
    if (journal)
      if (auto err = journal->commit())
        die(err);
    journal.reset();  // closes: the WAL goes into the file
  }
};

double bytes_per_task(const std::string& path, size_t tasks) {
  if (is_pg_url(path))
    return 0;
  return static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(tasks);
}

// Tasks/s accepting `n` tasks into pending.
double enqueue_rate(caf::actor_system& sys, mode m, const settings& s,
                    const std::string& path) {
  bench_core b{sys, m, path, s.batch};
  auto start = clock_type::now();
  for (size_t i = 0; i < s.tasks; ++i) {
    b.core.enqueue("bench.task", caf::make_message(static_cast<int32_t>(i)), 0);
    b.tick();
  }
  b.finish();
  return static_cast<double>(s.tasks) / seconds_since(start);
}

// Tasks/s through the whole life: a busy cluster of 10 nodes x 10 slots
// where each result frees a slot for a new task.
double cycle_rate(caf::actor_system& sys, mode m, const settings& s, const std::string& path) {
  bench_core b{sys, m, path, s.batch};
  for (int n = 0; n < 10; ++n)
    b.core.add_node(0);
  std::deque<std::pair<task_id, uint32_t>> running;
  auto record = [&](const dispatch_order& d) { running.emplace_back(d.id, d.epoch); };
  int32_t i = 0;
  for (; i < 200; ++i)
    b.core.enqueue("bench.task", caf::make_message(i), 0);
  b.core.dispatch(record);
  auto start = clock_type::now();
  for (size_t k = 0; k < s.tasks; ++k) {
    auto [id, epoch] = running.front();
    running.pop_front();
    b.core.complete(id, epoch, no_node, caf::make_message(static_cast<int32_t>(id)), caf::error{});
    b.core.enqueue("bench.task", caf::make_message(i++), 0);
    b.core.dispatch(record);
    b.tick();
  }
  b.finish();
  return static_cast<double>(s.tasks) / seconds_since(start);
}

// Tasks/s of one large batch: every task accepted first, then run to its
// end on 10 nodes x 10 slots, so that each task is written when accepted
// and again when it ends (the shape of gasched-bench's journal rows).
double batch_rate(caf::actor_system& sys, mode m, const settings& s, const std::string& path) {
  bench_core b{sys, m, path, s.batch};
  for (int n = 0; n < 10; ++n)
    b.core.add_node(0);
  std::deque<std::pair<task_id, uint32_t>> running;
  auto record = [&](const dispatch_order& d) { running.emplace_back(d.id, d.epoch); };
  auto start = clock_type::now();
  for (size_t i = 0; i < s.tasks; ++i) {
    b.core.enqueue("bench.task", caf::make_message(static_cast<int32_t>(i)), 0);
    b.tick();
  }
  b.core.dispatch(record);
  while (!running.empty()) {
    auto [id, epoch] = running.front();
    running.pop_front();
    b.core.complete(id, epoch, no_node, caf::make_message(static_cast<int32_t>(id)), caf::error{});
    b.core.dispatch(record);
    b.tick();
  }
  b.finish();
  return static_cast<double>(s.tasks) / seconds_since(start);
}

// Seconds from opening a journal of pending tasks to a core that has them.
double resume_seconds(caf::actor_system& sys, const std::string& path, bool check,
                      size_t expected) {
  auto start = clock_type::now();
  journal_options opts;
  opts.check_on_open = check;
  auto j = durable_journal::open(sys, path, opts);
  if (!j)
    die(j.error());
  scheduler_core core{core_limits{10, 0, 3}};
  if (auto err = core.restore((*j)->take_snapshot()))
    die(err);
  auto took = seconds_since(start);
  if (core.pending() != expected) {
    std::fprintf(stderr, "resumed %zu pending tasks, not %zu\n",
                 static_cast<size_t>(core.pending()), expected);
    std::exit(1);
  }
  return took;
}

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--tasks")
      s.tasks = std::stoul(argv[i + 1]);
    else if (flag == "--batch")
      s.batch = std::stoul(argv[i + 1]);
    else if (flag == "--dir")
      s.dir = argv[i + 1];
    else if (flag == "--pg-url")
      s.pg_url = argv[i + 1];
    else
      argc = 0;
  }
  if (argc % 2 == 0 || s.tasks == 0 || s.batch == 0) {
    std::fprintf(stderr, "usage: gasched-journal-bench [--tasks N] [--batch N] [--dir DIR] "
                         "[--pg-url URL]\n");
    std::exit(2);
  }
  return s;
}

std::string command_line(int argc, char** argv) {
  std::string cmd = "build/benchmarks/gasched-journal-bench";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    cmd += " " + (is_pg_url(arg) ? redact_pg_url(arg) : arg);
  }
  return cmd;
}

} // namespace

int main(int argc, char** argv) {
  auto s = parse(argc, argv);
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto base = s.dir + "/gasched-journal-bench-" + std::to_string(::getpid());
  auto pending_path = base + "-pending.db";
  auto cycle_path = base + "-cycle.db";
  auto batch_path = base + "-batch.db";
  std::printf("%s\n(scheduler_core on one thread; a commit every %zu tasks; %zu tasks each)\n\n",
              command_line(argc, argv).c_str(), s.batch, s.tasks);
  std::printf("%-16s %18s %22s %20s %14s %14s\n", "", "enqueue (tasks/s)",
              "enqueue+run+done (t/s)", "batch, then run", "B/task pending", "B/task done");
  double off_enqueue = 0, off_cycle = 0, off_batch = 0;
  struct store {
    const char* name;
    std::string pending, cycle, batch;
  };
  std::vector<store> stores{{"SQLite", pending_path, cycle_path, batch_path}};
  if (!s.pg_url.empty())
    stores.push_back({"PostgreSQL", s.pg_url, s.pg_url, s.pg_url});
  auto row = [&](const char* name, mode m, const store& st) {
    auto enqueue = enqueue_rate(sys, m, s, st.pending);
    auto pending_bytes = m == mode::off ? 0 : bytes_per_task(st.pending, s.tasks);
    auto cycle = cycle_rate(sys, m, s, st.cycle);
    auto cycle_bytes = m == mode::off ? 0 : bytes_per_task(st.cycle, s.tasks);
    // (On PostgreSQL the last scenario leaves the database to resume from: pending tasks.)
    auto batch = batch_rate(sys, m, s, st.batch);
    if (m == mode::off) {
      off_enqueue = enqueue;
      off_cycle = cycle;
      off_batch = batch;
      std::printf("%-24s %18.0f %22.0f %20.0f %14s %14s\n", name, enqueue, cycle, batch, "-",
                  "-");
      return;
    }
    auto bytes = [](double b) { return b > 0 ? std::to_string(static_cast<int>(b)) : "-"; };
    std::printf("%-24s %11.0f (%3.0f%%) %15.0f (%3.0f%%) %13.0f (%3.0f%%) %14s %14s\n", name,
                enqueue, 100 * enqueue / off_enqueue, cycle, 100 * cycle / off_cycle, batch,
                100 * batch / off_batch, bytes(pending_bytes).c_str(),
                bytes(cycle_bytes).c_str());
  };
  row(label(mode::off), mode::off, stores[0]);
  for (auto& st : stores)
    for (auto m : {mode::sync, mode::no_sync})
      row((std::string{st.name} + " " + label(m)).c_str(), m, st);
  // The last journal of pending tasks is resumed: with the structure check
  // opening does by default, and without it.
  auto checked = resume_seconds(sys, pending_path, true, s.tasks);
  auto unchecked = resume_seconds(sys, pending_path, false, s.tasks);
  std::printf("\nresume %zu pending tasks: %.2f s (%.2f s without check_on_open)\n", s.tasks,
              checked, unchecked);
  if (!s.pg_url.empty()) {
    // A database of pending tasks only, as enqueue_rate leaves it.
    enqueue_rate(sys, mode::no_sync, s, s.pg_url);
    std::printf("resume %zu pending tasks from PostgreSQL: %.2f s\n", s.tasks,
                resume_seconds(sys, s.pg_url, false, s.tasks));
    reset_pg(s.pg_url);
  }
  std::filesystem::remove(pending_path);
  std::filesystem::remove(cycle_path);
  std::filesystem::remove(batch_path);
  return 0;
}
