// gasched-ctl: a published scheduler's state in the terminal. --status prints
// it once, --watch refreshes it like top, --json prints /api/stats' document.
// Exit status: 0 done, 1 the scheduler could not be reached or did not
// answer, 2 usage error.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/http.hpp"
#include "gasched/init.hpp"
#include "gasched/log.hpp"
#include "gasched/scheduler.hpp"
#include "process_options.hpp"
#include "status_table.hpp"

namespace {

struct command_line {
  std::string connect;
  std::string host;
  uint16_t port = 0;
  bool status = false;
  bool watch = false;
  bool json = false;
  double interval = 1.0;  // seconds between refreshes of --watch
  uint64_t count = 0;     // refreshes of --watch; 0: until interrupted
  double timeout = 5.0;   // seconds to wait for an answer
  // --tls; one thread that sleeps when idle (--watch mostly waits); no log
  // lines: errors are reported once, by main.
  gasched::process_settings process;
};

// -1 to go on, else the exit code (0 after --help, 2 after a usage error).
int parse(int argc, char** argv, command_line& cl) {
  CLI::App app{"Shows the state of a gasched scheduler published at HOST:PORT\n"
               "(gasched::publish, gasched-run --listen)."};
  app.add_option("--connect", cl.connect, "the scheduler's address")
    ->type_name("HOST:PORT")
    ->required();
  auto* status = app.add_flag("--status", cl.status, "print the state once (the default)");
  auto* watch = app.add_flag("--watch", cl.watch, "refresh it in the terminal until Ctrl-C");
  status->excludes(watch);
  app.add_flag("--json", cl.json, "print JSON (as /api/stats), one document a line");
  app.add_option("--interval", cl.interval, "seconds between refreshes of --watch")
    ->check(CLI::Range(0.1, 3600.0))
    ->capture_default_str();
  app.add_option("--count", cl.count, "stop --watch after this many refreshes; 0: never")
    ->capture_default_str();
  app.add_option("--timeout", cl.timeout, "seconds to wait for the scheduler's answer")
    ->check(CLI::Range(0.1, 600.0))
    ->capture_default_str();
  gasched::add_tls_option(app, cl.process);
  try {
    app.parse(argc, argv);
    auto address = gasched::parse_address(cl.connect);
    if (!address)
      throw CLI::ValidationError("--connect", "wants HOST:PORT, got " + cl.connect);
    cl.host = address->host;
    cl.port = address->port;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

caf::expected<gasched::stats> ask_stats(caf::actor_system& sys,
                                        const gasched::scheduler_actor& sched,
                                        double timeout) {
  caf::scoped_actor self{sys};
  caf::expected<gasched::stats> result{caf::error{}};
  auto limit = std::chrono::duration_cast<caf::timespan>(std::chrono::duration<double>(timeout));
  self->request(sched, limit, gasched::stats_atom::value)
    .receive([&](gasched::stats& s) { result = std::move(s); },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

// Tasks finished per second between two looks.
std::optional<double> rate(const std::optional<gasched::stats>& before, int64_t before_ms,
                           const gasched::stats& now, int64_t now_ms) {
  if (!before || now_ms <= before_ms || gasched::finished(now) < gasched::finished(*before))
    return std::nullopt;
  return double(gasched::finished(now) - gasched::finished(*before)) * 1000.0
         / double(now_ms - before_ms);
}

int show(caf::actor_system& sys, const gasched::scheduler_actor& sched, const command_line& cl) {
  auto address = cl.host + ":" + std::to_string(cl.port);
  bool tty = isatty(STDOUT_FILENO) != 0;
  std::optional<gasched::stats> previous;
  int64_t previous_ms = 0;
  auto period = std::chrono::duration<double>(cl.interval);
  for (uint64_t n = 1;; ++n) {
    auto s = ask_stats(sys, sched, cl.timeout);
    if (!s) {
      std::cerr << "gasched-ctl: no stats from " << address << ": " << gasched::describe(s.error())
                << " (is it a gasched scheduler?)\n";
      return 1;
    }
    auto now = unix_ms_now();
    if (cl.json)
      std::cout << gasched::stats_json(*s, now) << std::endl;
    else
      std::cout << (cl.watch && tty ? "\x1b[H\x1b[2J" : "")  // home, clear: a fresh screen
                << gasched::ctl::status_table(*s, address, now,
                                              rate(previous, previous_ms, *s, now))
                << (cl.watch && !tty ? "\n" : "") << std::flush;
    if (!cl.watch || n == cl.count)
      return 0;
    previous = std::move(*s);
    previous_ms = now;
    std::this_thread::sleep_for(period);  // the refresh period itself, not a wait for an event
  }
}

} // namespace

int main(int argc, char** argv) {
  command_line cl;
  if (auto code = parse(argc, argv, cl); code >= 0)
    return code;
  cl.process.log = "off";
  gasched::apply_log_level(cl.process);
  caf::actor_system_config cfg;
  if (auto err = gasched::configure(cfg, cl.process)) {
    std::cerr << "gasched-ctl: " << gasched::describe(err) << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};
  auto sched = gasched::connect_scheduler(sys, cl.host, cl.port);
  if (!sched) {
    std::cerr << "gasched-ctl: " << gasched::describe(sched.error()) << "\n";
    return 1;
  }
  return show(sys, *sched, cl);
}
