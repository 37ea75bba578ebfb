#include "tcp_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <system_error>

namespace gasched::testing {

namespace {

// Past this many bytes queued for one side, the proxy stops reading the other
// side, so that TCP flow control slows the sender instead of our memory growing.
constexpr size_t max_queued = size_t{1} << 20;

struct chunk {
  std::chrono::steady_clock::time_point due;  // not written before
  std::vector<char> data;
  size_t sent = 0;
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

int tcp_socket() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;  // the proxy should add no latency of its own (Nagle)
  if (fd >= 0)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

} // namespace

// One proxied connection. Side 0 is the client, side 1 the upstream.
struct tcp_proxy::link {
  int fd[2] = {-1, -1};
  std::deque<chunk> out[2];       // read from side 1 - i, to be written to side i
  size_t queued[2] = {0, 0};      // bytes in out[i]
  bool connecting = true;         // upstream's non-blocking connect() pending
  bool closing = false;           // a side ended: flush what is queued, then close
  short revents[2] = {0, 0};      // from the last poll()

  // Side i ended; if it failed, nothing more can be written to it.
  void end(int i, bool failed) {
    closing = true;
    if (failed) {
      out[i].clear();
      queued[i] = 0;
    }
  }
};

tcp_proxy::tcp_proxy(uint16_t target_port) : target_port_(target_port), buffer_(64 * 1024) {
  auto addr = loopback(0);
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  listen_fd_ = tcp_socket();
  if (pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0 || listen_fd_ < 0 || bind(listen_fd_, sa, len) != 0 ||
      listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, sa, &len) != 0) {
    std::system_error error(errno, std::generic_category(), "tcp_proxy: listen on 127.0.0.1");
    for (int fd : {listen_fd_, wake_[0], wake_[1]})
      if (fd >= 0)
        close(fd);
    throw error;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

tcp_proxy::~tcp_proxy() {
  {
    std::lock_guard<std::mutex> guard(mtx_);
    stop_ = true;
  }
  wake();
  thread_.join();
  for (auto& l : links_)
    for (int fd : l.fd)
      close(fd);
  for (int fd : {listen_fd_, wake_[0], wake_[1]})
    close(fd);
}

void tcp_proxy::pass() { set_mode(mode::pass, {}); }
void tcp_proxy::blackhole() { set_mode(mode::blackhole, {}); }
void tcp_proxy::delay(std::chrono::milliseconds d) { set_mode(mode::delay, d); }

void tcp_proxy::lossy(double share, std::chrono::milliseconds stall, direction way) {
  {
    std::lock_guard<std::mutex> guard(mtx_);
    loss_ = share;
    loss_way_ = way;
  }
  set_mode(mode::lossy, stall);
}

void tcp_proxy::close_all() {
  std::unique_lock<std::mutex> guard(mtx_);
  close_requested_ = true;
  wait_applied(guard);
}

void tcp_proxy::set_mode(mode m, std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> guard(mtx_);
  mode_ = m;
  delay_ = d;
  wait_applied(guard);
}

void tcp_proxy::wait_applied(std::unique_lock<std::mutex>& guard) {
  auto ticket = ++requested_;
  wake();
  applied_cv_.wait(guard, [&] { return applied_ >= ticket; });
}

void tcp_proxy::wake() {
  char c = 1;
  if (write(wake_[1], &c, 1) < 0) {
    // Full pipe (EAGAIN): the thread has a wake-up pending anyway.
  }
}

void tcp_proxy::run() {
  std::vector<pollfd> fds;
  bool acceptable = false;
  // Each round acts on the last poll()'s results under the mode in force now,
  // then polls for what that mode lets through.
  while (sync()) {
    if (acceptable)
      accept_all();
    auto now = std::chrono::steady_clock::now();
    for (auto& l : links_)
      transfer(l, now);
    reap();
    int timeout = -1;
    fds.assign({{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    for (auto& l : links_)
      for (int i : {0, 1}) {
        short ev = events(l, i, now, timeout);
        fds.push_back({ev ? l.fd[i] : -1, ev, 0});  // -1: not even POLLHUP
      }
    if (poll(fds.data(), fds.size(), timeout) < 0) // EINTR: just another round
      for (auto& p : fds)
        p.revents = 0;
    char drain[64];
    while (read(wake_[0], drain, sizeof drain) > 0) {
    }
    acceptable = fds[1].revents & POLLIN;
    size_t k = 2;
    for (auto& l : links_)
      for (short& r : l.revents)
        r = fds[k++].revents;
  }
}

// Takes the callers' latest commands; false when the proxy is being destroyed.
bool tcp_proxy::sync() {
  std::lock_guard<std::mutex> guard(mtx_);
  if (stop_)
    return false;
  cur_mode_ = mode_;
  cur_delay_ = delay_;
  cur_loss_ = loss_;
  cur_loss_way_ = loss_way_;
  if (close_requested_) {
    close_requested_ = false;
    for (auto& l : links_)
      for (int fd : l.fd)
        close(fd);
    links_.clear();
    open_ = 0;
  }
  applied_ = requested_;
  applied_cv_.notify_all();
  return true;
}

void tcp_proxy::accept_all() {
  for (;;) {
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return;  // EAGAIN: none left
    }
    ++accepted_;
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    link l;
    l.fd[0] = client;
    l.fd[1] = tcp_socket();
    auto addr = loopback(target_port_);
    if (l.fd[1] >= 0 && connect(l.fd[1], reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      l.connecting = false;
    else if (l.fd[1] < 0 || errno != EINPROGRESS) {
      close(client);  // refused at once: the client sees the connection end
      close(l.fd[1]);
      continue;
    }
    links_.push_back(std::move(l));
    open_ = links_.size();
  }
}

void tcp_proxy::transfer(link& l, time_point now) {
  if (l.connecting) {
    if (!l.revents[1])
      return;
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(l.fd[1], SOL_SOCKET, SO_ERROR, &error, &len);
    l.connecting = false;
    l.revents[1] = 0;
    if (error != 0) {  // refused: reap() closes the client
      l.closing = true;
      return;
    }
  }
  if (cur_mode_ == mode::blackhole)
    return;  // a cut link: everything waits where it is
  for (int i : {0, 1})
    receive(l, i, now);
  for (int i : {0, 1})
    flush(l, i, now);
}

bool tcp_proxy::readable(const link& l, int i) const {
  return cur_mode_ != mode::blackhole && !l.connecting && !l.closing &&
         l.queued[1 - i] < max_queued;
}

void tcp_proxy::receive(link& l, int i, time_point now) {
  if (!(l.revents[i] & (POLLIN | POLLHUP | POLLERR)) || !readable(l, i))
    return;
  ssize_t n = recv(l.fd[i], buffer_.data(), buffer_.size(), 0);
  if (n > 0) {
    auto due = cur_mode_ == mode::delay ? now + cur_delay_ : now;
    // Side 0 is the client: what it sends goes upstream.
    auto way = i == 0 ? direction::to_upstream : direction::to_client;
    if (cur_mode_ == mode::lossy && (cur_loss_way_ == direction::both || cur_loss_way_ == way)) {
      rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
      if (static_cast<double>(rng_ % 1000000) / 1e6 < cur_loss_)
        due = now + cur_delay_;
    }
    if (!l.out[1 - i].empty())
      due = std::max(due, l.out[1 - i].back().due);  // in order, as TCP delivers
    l.out[1 - i].push_back({due, {buffer_.data(), buffer_.data() + n}});
    l.queued[1 - i] += static_cast<size_t>(n);
  } else if (n == 0) {
    l.end(i, false);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    l.end(i, true);
  }
}

void tcp_proxy::flush(link& l, int i, time_point now) {
  auto& q = l.out[i];
  while (!q.empty() && q.front().due <= now) {
    auto& c = q.front();
    ssize_t n = send(l.fd[i], c.data.data() + c.sent, c.data.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        l.end(i, true);
      return;  // else: poll() says when there is room again
    }
    c.sent += static_cast<size_t>(n);
    l.queued[i] -= static_cast<size_t>(n);
    if (c.sent == c.data.size())
      q.pop_front();
  }
}

// What to poll side i for; 0 for nothing. Lowers timeout to the next due chunk.
short tcp_proxy::events(const link& l, int i, time_point now, int& timeout) const {
  if (l.connecting)
    return i == 1 ? POLLOUT : 0;
  if (cur_mode_ == mode::blackhole)
    return 0;
  short ev = readable(l, i) ? POLLIN : 0;
  if (!l.out[i].empty()) {
    auto due = l.out[i].front().due;
    if (due <= now)
      return ev | POLLOUT;
    int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(due - now).count());
    timeout = timeout < 0 ? ms : std::min(timeout, ms);
  }
  return ev;
}

void tcp_proxy::reap() {
  auto done = [](const link& l) { return l.closing && l.out[0].empty() && l.out[1].empty(); };
  for (auto& l : links_)
    if (done(l))
      for (int fd : l.fd)
        close(fd);
  links_.erase(std::remove_if(links_.begin(), links_.end(), done), links_.end());
  open_ = links_.size();
}

} // namespace gasched::testing
