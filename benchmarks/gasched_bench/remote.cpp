// Remote clients: the same task file run locally (gasched-run --tasks, its
// own scheduler and 2 nodes) and through a served scheduler (gasched-run
// --connect to gasched-run --listen --serve with 2 nodes of its own), in
// turns, at the default window (--max-pending) and at 1,000,000. Each pair
// gives remote / local (wall times; the local one includes starting its
// nodes, as a user's run does); each run gives the client's peak memory
// (its VmHWM, read while it runs). The served scheduler lives through every run of the
// scenario; its resident memory after 10 more client runs over after a
// first one shows whether it keeps anything per task.
//
// Targets: remote >= 80 % of local at every window; the served scheduler
// within 5 % over 10 client runs.
#include "scenarios.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

extern char** environ;

namespace gasched::bench {

namespace {

struct timed_run {
  double seconds;
  double peak_mb;  // the child's peak resident memory
};

size_t ok_lines(const std::string& path) {
  std::ifstream in{path};
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("\"ok\":true") != std::string::npos)
      ++n;
  return n;
}

// A field of /proc/PID/status in kB ("VmHWM:", "VmRSS:"); 0 once it is gone.
double status_kb(pid_t pid, const std::string& field) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0)
      return std::stod(line.substr(field.size()));
  return 0;
}

// Runs argv to its end (stdout and stderr to /dev/null): its wall time and
// peak memory. Throws unless it exits 0.
timed_run run_to_end(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  auto t0 = clock_type::now();
  auto rc = posix_spawn(&pid, args[0], &files, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0)
    throw std::runtime_error("remote: cannot start " + argv[0]);
  // The child's own high-water mark, read while it runs: wait4's ru_maxrss
  // would also hold this process's (posix_spawn's child shares its memory
  // until exec, and exec keeps that peak), the largest of every scenario so far.
  int status = 0;
  double peak_kb = 0;
  for (;;) {
    auto got = waitpid(pid, &status, WNOHANG);
    if (got == pid)
      break;
    if (got != 0)
      throw std::runtime_error("remote: lost " + argv[0]);
    peak_kb = std::max(peak_kb, status_kb(pid, "VmHWM:"));
    std::this_thread::sleep_for(5ms);  // polled: nothing tells when the peak is reached
  }
  auto seconds = seconds_since(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (auto& a : argv)
      cmd += a + " ";
    throw std::runtime_error("remote: this run failed (status " + std::to_string(status)
                             + "): " + cmd);
  }
  return {seconds, peak_kb / 1024.0};
}

double rss_mb(pid_t pid) {
  auto kb = status_kb(pid, "VmRSS:");
  if (kb == 0)
    throw std::runtime_error("remote: the served scheduler is gone");
  return kb / 1024.0;
}

// gasched-run --listen 127.0.0.1:0 --serve --nodes 2, stopped when it ends.
struct served_scheduler {
  tools::child_process run;
  std::string address;

  served_scheduler(const options& opts) {
    run = tools::child_process::start({opts.apps_dir + "/gasched-run", "--listen",
                                       "127.0.0.1:0", "--serve", "--nodes", "2",
                                       "--node-program", opts.node_program, "--progress",
                                       "off"},
                                      true);
    // "gasched-run scheduler listening on 127.0.0.1:PORT"
    auto line = run.read_line(20s);
    auto colon = line ? line->rfind(':') : std::string::npos;
    if (!line || line->find("listening on") == std::string::npos
        || colon == std::string::npos)
      throw std::runtime_error("remote: gasched-run --serve did not say where it listens: "
                               + line.value_or("(nothing)"));
    address = "127.0.0.1:" + line->substr(colon + 1);
  }

  ~served_scheduler() {
    run.signal(SIGTERM);
    if (!run.wait_exit(10s))
      run.kill();
  }
};

} // namespace

void remote(context& c) {
  auto& opts = c.opts;
  size_t n = opts.quick ? 20000 : 300000;
  auto tasks = temp_file("remote-tasks");
  auto out = temp_file("remote-out");
  {
    std::ofstream f{tasks};
    for (size_t i = 1; i <= n; ++i)
      f << "{\"fn\":\"test.identity\",\"args\":[" << i << "]}\n";
  }
  auto run_program = opts.apps_dir + "/gasched-run";
  served_scheduler served{opts};
  auto checked = [&](timed_run r) {
    if (ok_lines(out) != n)
      throw std::runtime_error("remote: a run wrote " + std::to_string(ok_lines(out))
                               + " results for " + std::to_string(n) + " tasks");
    std::remove(out.c_str());
    return r;
  };
  auto local = [&](const std::string& window) {
    return checked(run_to_end({run_program, "--tasks", tasks, "--out", out, "--nodes", "2",
                               "--node-program", opts.node_program, "--quiet",
                               "--max-pending", window}));
  };
  auto remote_run = [&](const std::string& window) {
    return checked(run_to_end({run_program, "--connect", served.address, "--tasks", tasks,
                               "--out", out, "--quiet", "--max-pending", window}));
  };
  // The served scheduler's nodes join after it said where it listens: a
  // first client run waits for them.
  remote_run("100000");
  auto label = std::to_string(n) + " identity tasks from a file, 2 nodes";
  for (std::string window : {"100000", "1000000"}) {
    auto w = window == "100000" ? std::string{"--max-pending 100000 (default)"}
                                : "--max-pending " + window;
    figure local_f{"remote", label + ", local, " + w, "tasks/s", {}, "",
                   "gasched-run --tasks F --nodes 2, in turns with the next; its time "
                   "includes starting its 2 nodes"};
    figure remote_f{"remote", label + ", --connect to --serve, " + w, "tasks/s", {}, "",
                    "gasched-run --connect A --tasks F to gasched-run --listen --serve "
                    "--nodes 2"};
    figure share{"remote", label + ", " + w + ": remote / local", "%", {}, "",
                 "per pair of runs; the target is at least 80 %"};
    figure local_mem{"remote", label + ", " + w + ": local gasched-run's peak", "MB", {}, "",
                     "its own scheduler and reader; nodes are other processes"};
    figure remote_mem{"remote", label + ", " + w + ": --connect client's peak", "MB", {}, "",
                      "its VmHWM, read every 5 ms"};
    for (int i = 0; i < c.runs; ++i) {
      auto l = local(window);
      auto r = remote_run(window);
      local_f.runs.push_back(static_cast<double>(n) / l.seconds);
      remote_f.runs.push_back(static_cast<double>(n) / r.seconds);
      share.runs.push_back(100.0 * l.seconds / r.seconds);
      local_mem.runs.push_back(l.peak_mb);
      remote_mem.runs.push_back(r.peak_mb);
    }
    for (auto* f : {&local_f, &remote_f, &share, &local_mem, &remote_mem})
      c.add(*f);
  }
  // Its memory over 10 client runs after a first one (at the default window;
  // the runs above may have raised its high-water mark, not its floor).
  remote_run("100000");
  auto rss_first = rss_mb(served.run.pid());
  size_t more = opts.quick ? 2 : 10;
  for (size_t i = 0; i < more; ++i)
    remote_run("100000");
  auto rss_last = rss_mb(served.run.pid());
  c.add(figure{"remote",
               "served scheduler's resident memory after " + std::to_string(more)
                 + " more client runs over after the first",
               "%", {100.0 * rss_last / rss_first}, "",
               "VmRSS " + fmt_value(rss_first) + " MB after the first, "
                 + fmt_value(rss_last) + " MB after the last; the target is at most 105 %"});
  std::remove(tasks.c_str());
}

} // namespace gasched::bench
