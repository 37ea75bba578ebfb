// gasched-test-scheduler: a scheduler process with a journal, for the test
// that kills it with kill -9 and starts it again. It publishes its scheduler
// on 127.0.0.1:PORT for nodes to join, writes each result as one line
// "ID NODE" to OUT (one write per line, so a kill never leaves half a line),
// and on a journal with no task yet submits N tasks test.sleep(id, MS) in one
// batch (acknowledged once on disk, or not at all). A result is sent once,
// after its end is on disk; a kill between that and the line being written
// loses the line, so on a restart every task whose line is missing is
// awaited again (the journal keeps finished results), as a batch runner with
// an output file must do. It exits 0 once all N have succeeded, counting
// those that finished before a restart.
//
//   gasched-test-scheduler JOURNAL PORT OUT N MS
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "gasched/gasched.hpp"

using namespace gasched;

namespace {

void write_line(int fd, const task_result& r) {
  auto line = std::to_string(r.id) + " " + (r.ok() ? r.node : "error") + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    std::cerr << "gasched-test-scheduler: cannot write a result\n";
}

caf::behavior result_writer(caf::event_based_actor*, int fd) {
  return {
    [fd](task_result& r) { write_line(fd, r); },
  };
}

// Awaits every task of 1..n whose line is not in `out` yet, and writes it.
// (Its requests are in the scheduler's mailbox when it tells `ready`: before
// the scheduler is published, so before any node can deliver a result.)
caf::behavior rewriter(caf::event_based_actor* self, gasched::scheduler_actor sched, int fd,
                       std::string out, int n, caf::actor ready) {
  std::set<task_id> written;
  std::ifstream in{out};
  for (std::string line; std::getline(in, line);)
    written.insert(std::stoull(line.substr(0, line.find(' '))));
  for (task_id id = 1; id <= static_cast<task_id>(n); ++id)
    if (written.count(id) == 0)
      self->request(sched, caf::infinite, await_atom::value, id)
        .then([fd](task_result& r) { write_line(fd, r); }, [](caf::error&) {});
  self->send(ready, caf::ok_atom::value);
  return {[](caf::ok_atom) {}};
}

stats ask_stats(caf::scoped_actor& self, const gasched::scheduler_actor& sched) {
  stats s;
  self->request(sched, std::chrono::seconds(10), stats_atom::value)
    .receive([&](stats& x) { s = std::move(x); }, [](caf::error&) {});
  return s;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: gasched-test-scheduler JOURNAL PORT OUT N MS\n";
    return 2;
  }
  auto n = std::stoi(argv[4]);
  auto ms = std::stoi(argv[5]);
  caf::actor_system_config cfg;
  // Over TLS when the suite runs over TLS (its nodes do then).
  tls_options tls;
  if (auto dir = std::getenv("GASCHED_TEST_TLS_DIR"))
    tls = tls_options::from_dir(std::string{dir} + "/test");
  if (auto err = init(cfg, {}, tls)) {
    std::cerr << describe(err) << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};
  auto fd = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
  auto writer = sys.spawn(result_writer, fd);
  scheduler_options opts;
  opts.name = "journaled";
  opts.client = writer;
  opts.journal = argv[1];
  opts.journal_sync = false;  // survives a kill -9 of this process, not of the machine
  opts.retry_timeout = std::chrono::milliseconds(0);
  opts.notify_client_of_awaited = false;  // an awaited result is written by the rewriter
  auto sched = spawn_scheduler(sys, opts);
  if (!sched) {
    std::cerr << describe(sched.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  auto s = ask_stats(self, *sched);
  if (s.succeeded + s.failed + s.pending + s.running == 0) {
    std::vector<task> batch;
    for (int32_t id = 1; id <= n; ++id)
      batch.push_back(task{"test.sleep", caf::make_message(id, int32_t{ms})});
    self->request(*sched, std::chrono::seconds(30), execute_atom::value, std::move(batch))
      .receive([](std::vector<task_id>&) {}, [](caf::error&) {});
  } else {
    sys.spawn(rewriter, *sched, fd, std::string{argv[3]}, n, caf::actor{self});
    self->receive([](caf::ok_atom) {});
  }
  auto port = publish(sys, *sched, static_cast<uint16_t>(std::stoi(argv[2])));
  if (!port) {
    std::cerr << describe(port.error()) << "\n";
    return 1;
  }
  std::cout << "listening " << *port << " resumed " << s.pending + s.running << std::endl;
  auto lines = [&] {
    std::ifstream in{argv[3]};
    return std::count(std::istreambuf_iterator<char>{in}, {}, '\n');
  };
  while (ask_stats(self, *sched).succeeded < static_cast<uint64_t>(n) || lines() < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::cout << "done" << std::endl;
  self->request(*sched, std::chrono::seconds(10), stop_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->send_exit(writer, caf::exit_reason::user_shutdown);
  ::close(fd);
  return 0;
}
