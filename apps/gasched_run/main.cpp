// gasched-run: the first command of gasched. With no arguments it runs a
// batch of real work (aggregating game events) over local gasched-node
// processes and checks its own answer; it also runs a file of tasks, serves
// a scheduler that nodes and clients reach over the network, and acts as
// such a client. `gasched-run --help` lists it all.
#include <chrono>
#include <cstdio>
#include <exception>

#include "event_job/event_job.hpp"
#include "gasched/errc.hpp"
#include "gasched/log.hpp"
#include "process_settings.hpp"
#include "gasched_run/actor_config.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/task_job.hpp"

int main(int argc, char** argv) {
  using namespace gasched::run;
  // First, before any thread exists: every thread inherits the blocked
  // signals, so only the watcher sees Ctrl-C.
  stop_signals signals;
  int exit_code = 0;
  auto opts = parse_options(argc, argv, exit_code);
  if (!opts)
    return exit_code;
  progress display{progress::pick(opts->progress, opts->quiet), !opts->quiet,
                   std::chrono::milliseconds(static_cast<long>(opts->progress_every * 1000))};
  if (auto err = check_tls(*opts)) {
    display.error(gasched::describe(err));
    return 1;
  }
  if (opts->exposed_in_plain_text())  // and --insecure, or parsing would have refused
    display.error(gasched::plain_text_warning(opts->listen_host, strangers_can));
  gasched::apply_log_level(*opts);
  // gasched's own lines go through the display, so they do not tear the bar.
  gasched::set_log_sink([&display](gasched::log_level, const std::string& line) {
    display.error("gasched: " + line);
  });
  int code = 1;
  try {
    if (opts->serve)
      code = run_serve(*opts, display, signals);
    else if (!opts->tasks_file.empty())
      code = run_task_job(*opts, display, signals);
    else
      code = run_event_job(*opts, display, signals);
  } catch (const std::exception& e) {
    display.error(e.what());
    code = signals.requested() ? signals.exit_code() : 1;
  }
  gasched::set_log_sink({});
  return code;
}
