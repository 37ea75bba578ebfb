// A fault-injecting TCP proxy for the multi-process tests. It sits between a
// node process and its scheduler on 127.0.0.1, so that a test can cut, slow
// down or reset a link without root (no iptables, no tc). No CAF here: POSIX
// sockets and one thread around poll().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace gasched::testing {

class tcp_proxy {
public:
  /// Listens on 127.0.0.1 at a port of the kernel's choosing and forwards each
  /// accepted connection to 127.0.0.1:target_port (a client whose upstream
  /// connection is refused is closed).
  explicit tcp_proxy(uint16_t target_port);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  uint16_t port() const { return port_; }

  // Each of these has taken effect when it returns: after blackhole(), not one
  // more byte is read or written until pass() or delay().

  /// Forwards both ways (the default).
  void pass();
  /// A cut link: every socket stays open but nothing is read or written, so
  /// data waits in kernel buffers and arrives intact, in order, after pass().
  void blackhole();
  /// Forwards both ways, each chunk written `d` after it was read, in order.
  /// Chunks keep their due time when the mode changes.
  void delay(std::chrono::milliseconds d);
  /// Which way a lossy link loses: both, or only one (a one-way loss:
  /// requests get through and answers stall, or the other way round).
  enum class direction { both, to_upstream, to_client };
  /// A lossy link as TCP sees it: each chunk going `way` is held back `stall`
  /// (a retransmission) with probability `share`, order kept; the rest pass.
  void lossy(double share, std::chrono::milliseconds stall, direction way = direction::both);
  /// Closes both sides of every current connection; new ones are forwarded in
  /// the current mode.
  void close_all();

  size_t connections_accepted() const { return accepted_; }
  size_t open_connections() const { return open_; }

private:
  enum class mode { pass, blackhole, delay, lossy };
  using time_point = std::chrono::steady_clock::time_point;
  struct link;

  void set_mode(mode m, std::chrono::milliseconds d);
  void wait_applied(std::unique_lock<std::mutex>& guard);
  void wake();
  // The thread's side.
  void run();
  bool sync();
  void accept_all();
  void transfer(link& l, time_point now);
  bool readable(const link& l, int i) const;
  void receive(link& l, int i, time_point now);
  void flush(link& l, int i, time_point now);
  short events(const link& l, int i, time_point now, int& timeout) const;
  void reap();

  const uint16_t target_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // self-pipe: a command wakes the thread from poll()
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> open_{0};

  // Commands, under mtx_. Callers wait until applied_ reaches their ticket.
  std::mutex mtx_;
  std::condition_variable applied_cv_;
  mode mode_ = mode::pass;
  std::chrono::milliseconds delay_{0};
  double loss_ = 0;
  direction loss_way_ = direction::both;
  bool close_requested_ = false;
  bool stop_ = false;
  uint64_t requested_ = 0;
  uint64_t applied_ = 0;

  // The thread's own state.
  mode cur_mode_ = mode::pass;
  std::chrono::milliseconds cur_delay_{0};
  double cur_loss_ = 0;
  direction cur_loss_way_ = direction::both;
  uint64_t rng_ = 0x9e3779b97f4a7c15;  // xorshift: lossy's coin
  std::vector<link> links_;
  std::vector<char> buffer_;
  std::thread thread_;  // last: starts once everything above exists
};

} // namespace gasched::testing
