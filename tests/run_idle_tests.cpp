// Idle gasched processes sleep: counted by their threads' wake-ups, no
// timer polls while nothing happens.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <sstream>

#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;

namespace {

// Voluntary context switches of every thread of `pid` so far: each is a
// thread going to sleep, so they count how often its threads woke up.
uint64_t wake_ups(pid_t pid) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in{task.path() / "status"};
    for (std::string line; std::getline(in, line);)
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
        total += std::stoull(line.substr(line.find(':') + 1));
  }
  return total;
}

// The fewest wake-ups of `pid`'s threads in one second, over up to `tries`
// seconds in a row (at once when one second had none): what starting up
// cost has passed by then, and a process that polls never gets near 0.
uint64_t fewest_wake_ups_per_second(pid_t pid, int tries = 10) {
  auto fewest = std::numeric_limits<uint64_t>::max();
  auto before = wake_ups(pid);
  for (int i = 0; i < tries && fewest > 0; ++i) {
    std::this_thread::sleep_for(1s);  // the window measured, not a wait for an event
    auto after = wake_ups(pid);
    if (after >= before)  // (a thread that ended takes its count along)
      fewest = std::min(fewest, after - before);
    before = after;
  }
  return fewest;
}

// Wake-ups of `pid`'s threads per second, on average over `window`.
double wake_ups_per_second(pid_t pid, std::chrono::seconds window) {
  auto before = wake_ups(pid);
  std::this_thread::sleep_for(window);  // the window measured, not a wait for an event
  auto after = wake_ups(pid);
  return after >= before ? static_cast<double>(after - before) / static_cast<double>(window.count())
                         : 0.0;
}

// CPU seconds `pid` has used so far (user and system, all threads).
double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string all{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  std::istringstream rest{all.substr(all.rfind(')') + 2)};  // after "pid (comm) "
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14)  // utime, stime
      ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds `pid` uses over `window` of wall time.
double cpu_seconds_over(pid_t pid, std::chrono::seconds window) {
  auto before = cpu_seconds(pid);
  std::this_thread::sleep_for(window);  // the window measured, not a wait for an event
  return cpu_seconds(pid) - before;
}

// CAF's own connection heartbeats (every 200 ms by default) out of the way:
// what is left is gasched's and CAF's scheduler.
const std::vector<std::string> no_heartbeats{"--heartbeat", "60000", "--heartbeat-timeout", "0"};

} // namespace

TEST_CASE("idle gasched processes sleep: no thread wakes up on a timer", "[run][idle]") {
  scratch dir;
  SECTION("gasched-run --serve with nothing submitted") {
    // Nodes that join and remote clients' tasks: its scheduler tells it
    // (changed_atom), so an idle server does not look; it used to ask every
    // 2 s, and before that every 250 ms, with a watcher waking every 100 ms.
    run_process server{dir, with({"--listen", "127.0.0.1:0", "--serve", "--nodes", "0", "--quiet"},
                                 no_heartbeats)};
    served_address(server, "127.0.0.1");
    fewest_wake_ups_per_second(server.pid());  // past its start
    auto rate = wake_ups_per_second(server.pid(), 6s);
    INFO("stderr:\n" << server.err());
    CHECK(rate <= 2);
    server.signal(SIGTERM);
    CHECK(server.finish() == 0);
  }
  SECTION("gasched-run --tasks from a FIFO that went quiet, its node idle") {
    auto fifo = dir.file("tasks.fifo");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // One line, then the writer keeps the FIFO open and says nothing more.
    auto writer = gasched::tools::child_process::start(
      {"/bin/sh", "-c", "exec 3>\"$0\"; printf '%s\\n' \"$1\" >&3; exec sleep 600", fifo,
       "{\"fn\": \"hello.world\", \"args\": [7]}"});
    run_process run{dir, with({"--tasks", fifo, "--nodes", "1", "--quiet"}, no_heartbeats)};
    auto first = run.line(60s);
    INFO("stderr:\n" << run.err());
    REQUIRE(first);
    CHECK(first->find("\"ok\":true") != std::string::npos);
    CHECK(fewest_wake_ups_per_second(run.pid()) <= 2);
    writer.kill();  // the input ends: the run does too
    CHECK(run.finish() == 0);
  }
  SECTION("gasched-node with no scheduler") {
    // Both spin windows on, the I/O thread's longer than its default.
    auto node = gasched::tools::start_node(
      stock_node_program(), with({"--port", "0", "--caf#gasched.io-spin=200us"}, no_heartbeats));
    CHECK(fewest_wake_ups_per_second(node.process.pid()) <= 2);
    // Nor does a thread keep polling instead of sleeping (gasched.thread-spin
    // and gasched.io-spin end a short window after the last work): a thread
    // that polls yields the core, so it shows in CPU time, not in wake-ups.
    CHECK(cpu_seconds_over(node.process.pid(), 3s) < 0.1);
    node.process.signal(SIGTERM);
    CHECK(node.process.wait_exit(10s));
  }
}

TEST_CASE("gasched-run --serve shows nodes that join and leave, told by its scheduler",
          "[run][idle]") {
  // The idle server has no timer (above): what it shows, it was told.
  scratch dir;
  run_process server{dir, with({"--listen", "127.0.0.1:0", "--serve", "--nodes", "0"},
                               no_heartbeats)};
  auto address = served_address(server, "127.0.0.1");
  suppress_caf_leaks_in_children();
  auto node = gasched::tools::child_process::start(
    with({stock_node_program(), "--join", address, "--name", "pushed"}, no_heartbeats));
  auto joined = await_err(server, std::regex{"node pushed joined"});
  INFO("stderr:\n" << server.err());
  CHECK(joined);
  node.kill();
  CHECK(await_err(server, std::regex{"node pushed is gone"}));
  server.signal(SIGTERM);
  CHECK(server.finish() == 0);
}
