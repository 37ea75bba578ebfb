// Starting, reading and killing child processes: the node processes that the
// tests, the benchmarks and gasched-run start on this machine.
//
// A child dies with the thread that started it (PR_SET_PDEATHSIG), so a
// crashed parent leaves no process behind: start children from the main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gasched::tools {

class child_process {
public:
  child_process() = default;
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  /// Kills (SIGKILL) and reaps the child if it still runs.
  ~child_process();

  /// Runs argv[0] (a path) with its arguments; its stdout is a pipe that
  /// read_line() reads, its stderr is this process's stderr, or /dev/null
  /// when quiet. Throws std::system_error when it cannot start.
  static child_process start(const std::vector<std::string>& argv, bool quiet = false);

  /// The same, with the child's stderr appended to the file `stderr_path`
  /// (created when missing), so that it can be read after the child died.
  static child_process start_logged(const std::vector<std::string>& argv,
                                    const std::string& stderr_path);

  pid_t pid() const noexcept {
    return pid_;
  }

  bool running() const noexcept {
    return pid_ > 0;
  }

  /// The next line of the child's stdout (without the newline), waiting at
  /// most `timeout`; nullopt on timeout or end of output.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Sends `sig` (SIGSTOP, SIGCONT, SIGTERM, ...).
  void signal(int sig);

  /// Waits up to `timeout` for the child to exit; its wait status, or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// SIGKILL, then reaps it.
  void kill();

private:
  // stderr_fd: the child's stderr, or -1 for this process's own.
  static child_process spawn(const std::vector<std::string>& argv, int stderr_fd);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

/// A wait status in words: "exited with status 1", "killed by signal 9 (SIGKILL)".
std::string describe_exit(int status);

/// A gasched-node process and the address it listens on.
struct node_process {
  child_process process;
  std::string name;
  std::string host;
  uint16_t port = 0;
};

/// Starts `node_program` (gasched-node) with `args` (for example --port 0
/// --name n1) and waits up to `timeout` for its "listening on" line.
/// Throws std::runtime_error naming what went wrong.
node_process start_node(const std::string& node_program, std::vector<std::string> args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        bool quiet = false);

} // namespace gasched::tools
