#include "gasched_run/stop_signals.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace gasched::run {

namespace {

sigset_t watched() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  // Blocked, SIGCHLD stays pending (its default action is to be ignored,
  // but a blocked signal is never discarded), so signalfd reports it.
  sigaddset(&set, SIGCHLD);
  return set;
}

} // namespace

stop_signals::stop_signals() {
  auto set = watched();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
  if (signal_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "signalfd");
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    auto err = errno;
    close(signal_fd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  watcher_ = std::thread{[this] { watch(); }};
}

stop_signals::~stop_signals() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(stop_fd_, &one, sizeof(one));
  watcher_.join();
  close(signal_fd_);
  close(stop_fd_);
}

// Sleeps until a signal or the destructor: no timeout, nothing to look at.
void stop_signals::watch() {
  pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;  // nothing sensible left to wait on
    }
    if (fds[1].revents != 0)
      return;
    signalfd_siginfo info{};
    auto n = read(signal_fd_, &info, sizeof(info));
    if (n != static_cast<ssize_t>(sizeof(info)))
      continue;  // EINTR, or EAGAIN after another reader: poll again
    auto sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      ++child_signals_;
    } else {
      if (signal_ != 0)
        _exit(128 + sig);  // asked twice: the user wants out now
      signal_ = sig;
    }
    std::lock_guard<std::mutex> guard{wakes_mtx_};
    for (auto& [id, wake] : wakes_)
      wake();
  }
}

stop_signals::subscription stop_signals::on_signal(std::function<void()> wake) {
  std::lock_guard<std::mutex> guard{wakes_mtx_};
  auto id = next_id_++;
  wakes_.emplace(id, std::move(wake));
  return subscription{this, id};
}

void stop_signals::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> guard{wakes_mtx_};
  wakes_.erase(id);
}

stop_signals::subscription::subscription(subscription&& other) noexcept
  : owner_(other.owner_), id_(other.id_) {
  other.owner_ = nullptr;
}

stop_signals::subscription&
stop_signals::subscription::operator=(subscription&& other) noexcept {
  if (this != &other) {
    if (owner_)
      owner_->unsubscribe(id_);
    owner_ = other.owner_;
    id_ = other.id_;
    other.owner_ = nullptr;
  }
  return *this;
}

stop_signals::subscription::~subscription() {
  if (owner_)
    owner_->unsubscribe(id_);
}

} // namespace gasched::run
