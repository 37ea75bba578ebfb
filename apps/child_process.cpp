#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace gasched::tools {

child_process::child_process(child_process&& other) noexcept
  : pid_(other.pid_), out_fd_(other.out_fd_), buffer_(std::move(other.buffer_)) {
  other.pid_ = -1;
  other.out_fd_ = -1;
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    kill();
    if (out_fd_ >= 0)
      close(out_fd_);
    pid_ = other.pid_;
    out_fd_ = other.out_fd_;
    buffer_ = std::move(other.buffer_);
    other.pid_ = -1;
    other.out_fd_ = -1;
  }
  return *this;
}

child_process::~child_process() {
  kill();
  if (out_fd_ >= 0)
    close(out_fd_);
}

child_process child_process::start(const std::vector<std::string>& argv, bool quiet) {
  int null_fd = quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
  try {
    auto result = spawn(argv, null_fd);
    if (null_fd >= 0)
      close(null_fd);
    return result;
  } catch (...) {
    if (null_fd >= 0)
      close(null_fd);
    throw;
  }
}

child_process child_process::start_logged(const std::vector<std::string>& argv,
                                          const std::string& stderr_path) {
  int fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(), "open " + stderr_path);
  try {
    auto result = spawn(argv, fd);
    close(fd);
    return result;
  } catch (...) {
    close(fd);
    throw;
  }
}

child_process child_process::spawn(const std::vector<std::string>& argv, int stderr_fd) {
  if (argv.empty())
    throw std::invalid_argument("child_process::start: no program");
  // Everything the child needs is prepared before fork: after it, a
  // multithreaded parent's child may only make async-signal-safe calls.
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  auto parent = getpid();
  auto pid = fork();
  if (pid < 0) {
    auto err = errno;
    close(fds[0]);
    close(fds[1]);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)  // the parent died before prctl
      _exit(127);
    // Undo a blocked signal mask inherited from the parent (run_node's sigwait).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(fds[1], STDOUT_FILENO);
    if (stderr_fd >= 0)
      dup2(stderr_fd, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  child_process result;
  result.pid_ = pid;
  result.out_fd_ = fds[0];
  return result;
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (out_fd_ < 0)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd pfd{out_fd_, POLLIN, 0};
    auto ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return std::nullopt;
    char chunk[4096];
    auto n = read(out_fd_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      close(out_fd_);
      out_fd_ = -1;
      continue;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void child_process::signal(int sig) {
  if (pid_ > 0)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    auto r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return std::nullopt;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    // waitpid has no timeout; poll its status every millisecond.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void child_process::kill() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  ::kill(pid_, SIGCONT);  // a stopped process dies only once it runs
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    auto sig = WTERMSIG(status);
    auto* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig)
           + (name ? " (SIG" + std::string{name} + ")" : std::string{});
  }
  return "ended (wait status " + std::to_string(status) + ")";
}

node_process start_node(const std::string& node_program, std::vector<std::string> args,
                        std::chrono::milliseconds timeout, bool quiet) {
  args.insert(args.begin(), node_program);
  node_process result;
  result.process = child_process::start(args, quiet);
  // "gasched-node NAME listening on HOST:PORT"
  auto line = result.process.read_line(timeout);
  constexpr const char* marker = " listening on ";
  auto at = line ? line->find(marker) : std::string::npos;
  if (at == std::string::npos)
    throw std::runtime_error(node_program + " did not report its address"
                             + (line ? ": " + *line : std::string{" in time"}));
  auto name_start = line->find(' ') + 1;
  result.name = line->substr(name_start, at - name_start);
  auto address = line->substr(at + std::char_traits<char>::length(marker));
  auto colon = address.rfind(':');
  result.host = address.substr(0, colon);
  result.port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  return result;
}

} // namespace gasched::tools
