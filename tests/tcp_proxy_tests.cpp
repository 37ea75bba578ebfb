// tcp_proxy, the multi-process tests' fault injector, against a plain echo
// server: what each mode lets through, and when.
#include "tcp_proxy.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using gasched::testing::tcp_proxy;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Owns a file descriptor.
struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd >= 0)
      close(fd);
  }
};

// Echoes every byte back on every connection, from one thread around poll().
class echo_server {
public:
  echo_server() {
    auto addr = loopback(0);
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    REQUIRE(pipe2(stop_, O_NONBLOCK | O_CLOEXEC) == 0);
    REQUIRE(listen_.fd >= 0);
    REQUIRE(bind(listen_.fd, sa, len) == 0);
    REQUIRE(listen(listen_.fd, 16) == 0);
    REQUIRE(getsockname(listen_.fd, sa, &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~echo_server() {
    ssize_t woken = write(stop_[1], "x", 1);  // an empty pipe takes it
    (void)woken;
    thread_.join();
    for (auto& c : clients_)
      close(c.fd);
    close(stop_[0]);
    close(stop_[1]);
  }
  uint16_t port() const { return port_; }

private:
  struct client {
    int fd;
    std::string pending;  // read, not yet echoed
  };

  void run() {
    for (;;) {
      std::vector<pollfd> fds{{stop_[0], POLLIN, 0}, {listen_.fd, POLLIN, 0}};
      for (auto& c : clients_) {
        short ev = c.pending.size() < (1u << 20) ? POLLIN : 0;
        fds.push_back({c.fd, static_cast<short>(ev | (c.pending.empty() ? 0 : POLLOUT)), 0});
      }
      if (poll(fds.data(), fds.size(), -1) < 0)
        continue;
      if (fds[0].revents)
        return;
      for (size_t i = 0; i + 2 < fds.size(); ++i) {
        auto& c = clients_[i];
        bool ended = false;
        if (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR)) {
          char buf[65536];
          ssize_t n = recv(c.fd, buf, sizeof buf, 0);
          if (n > 0)
            c.pending.append(buf, static_cast<size_t>(n));
          else
            ended = n == 0 || (errno != EAGAIN && errno != EINTR);
        }
        if (!c.pending.empty()) {
          ssize_t n = send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
          if (n > 0)
            c.pending.erase(0, static_cast<size_t>(n));
          else if (n < 0 && errno != EAGAIN && errno != EINTR)
            ended = true;
        }
        if (ended) {
          close(c.fd);
          c.fd = -1;
        }
      }
      clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                    [](const client& c) { return c.fd < 0; }),
                     clients_.end());
      if (fds[1].revents & POLLIN) {
        int fd = accept4(listen_.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
          clients_.push_back({fd, {}});
      }
    }
  }

  fd_guard listen_{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::vector<client> clients_;
  std::thread thread_;
};

// A non-blocking client connected to 127.0.0.1:port.
int connect_client(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  auto addr = loopback(port);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
  return fd;
}

struct exchanged {
  std::string data;    // what came back
  bool ended = false;  // the connection ended: EOF, ECONNRESET or EPIPE
  int error = 0;       // errno of the end, 0 for EOF
};

// Sends all of `out` while reading until `want` bytes came back, the
// connection ended or `timeout` passed: sending and reading together, so that
// a payload larger than the socket buffers cannot deadlock against the echo.
exchanged exchange(int fd, const std::string& out, size_t want, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  exchanged r;
  size_t sent = 0;
  while (r.data.size() < want || sent < out.size()) {
    auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0)
      break;
    pollfd p{fd, static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0)
      continue;  // timeout or EINTR: the deadline decides
    if (p.revents & POLLOUT) {
      ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        r.ended = true;  // EPIPE or ECONNRESET
        r.error = errno;
        break;
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        r.data.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        r.ended = true;
        r.error = n == 0 ? 0 : errno;
        break;
      }
    }
  }
  return r;
}

std::string round_trip(int fd, const std::string& message, milliseconds timeout = 5s) {
  return exchange(fd, message, message.size(), timeout).data;
}

// A listening socket that nobody accepts on yet: connections to it complete in
// the kernel, and what they send waits in its receive buffer.
fd_guard stalled_listener(uint16_t& port) {
  fd_guard s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  auto addr = loopback(0);
  socklen_t len = sizeof addr;
  REQUIRE(bind(s.fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(listen(s.fd, 4) == 0);
  REQUIRE(getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port = ntohs(addr.sin_port);
  return fd_guard{std::exchange(s.fd, -1)};
}

// A port where nothing listens (bound, then freed).
uint16_t free_port() {
  fd_guard s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  auto addr = loopback(0);
  socklen_t len = sizeof addr;
  REQUIRE(bind(s.fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  return ntohs(addr.sin_port);
}

} // namespace

TEST_CASE("tcp_proxy pass: bytes come back in order, 4 MiB included", "[proxy]") {
  echo_server echo;
  tcp_proxy proxy(echo.port());
  CHECK(proxy.port() != 0);
  CHECK(proxy.port() != echo.port());
  fd_guard client{connect_client(proxy.port())};
  CHECK(round_trip(client.fd, "hello") == "hello");
  CHECK(round_trip(client.fd, "world") == "world");
  // Far more than the socket buffers and the proxy's 1 MiB bound hold at once.
  std::string big(4u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>((i * 7 + i / 65521) % 251);
  auto got = exchange(client.fd, big, big.size(), 60s);
  CHECK_FALSE(got.ended);
  REQUIRE(got.data.size() == big.size());
  CHECK(got.data == big);
  CHECK(proxy.connections_accepted() == 1);
  CHECK(proxy.open_connections() == 1);
}

TEST_CASE("tcp_proxy blackhole: nothing flows, nothing closes, all arrives after pass",
          "[proxy]") {
  echo_server echo;
  tcp_proxy proxy(echo.port());
  fd_guard client{connect_client(proxy.port())};
  REQUIRE(round_trip(client.fd, "before") == "before");
  proxy.blackhole();
  auto held = exchange(client.fd, "during", 6, 300ms);
  CHECK(held.data.empty());
  CHECK_FALSE(held.ended);
  // A connection made during the cut is accepted, but is cut too.
  fd_guard late{connect_client(proxy.port())};
  auto late_held = exchange(late.fd, "late", 4, 300ms);
  CHECK(late_held.data.empty());
  CHECK_FALSE(late_held.ended);
  CHECK(proxy.connections_accepted() == 2);
  proxy.pass();
  CHECK(exchange(client.fd, "", 6, 5s).data == "during");
  CHECK(exchange(late.fd, "", 4, 5s).data == "late");
  CHECK(round_trip(client.fd, "after") == "after");
}

TEST_CASE("tcp_proxy delay: a round trip takes both delays, order kept", "[proxy]") {
  echo_server echo;
  tcp_proxy proxy(echo.port());
  fd_guard client{connect_client(proxy.port())};
  REQUIRE(round_trip(client.fd, "connected") == "connected");
  proxy.delay(200ms);
  auto t0 = steady_clock::now();
  REQUIRE(exchange(client.fd, "one", 0, 5s).data.empty());
  auto got = exchange(client.fd, "two", 6, 5s);
  auto took = steady_clock::now() - t0;
  CHECK(got.data == "onetwo");
  CHECK(took >= 400ms);  // 200 ms each way; the upper bound only catches a hang
  CHECK(took < 5s);
  proxy.pass();
  auto t1 = steady_clock::now();
  CHECK(round_trip(client.fd, "fast") == "fast");
  CHECK(steady_clock::now() - t1 < 5s);
}

TEST_CASE("tcp_proxy close_all: the client sees the end, a new connection works",
          "[proxy]") {
  echo_server echo;
  tcp_proxy proxy(echo.port());
  fd_guard first{connect_client(proxy.port())};
  REQUIRE(round_trip(first.fd, "first") == "first");
  CHECK(proxy.open_connections() == 1);
  proxy.close_all();
  CHECK(proxy.open_connections() == 0);
  auto end = exchange(first.fd, "", 1, 5s);
  CHECK(end.data.empty());
  CHECK(end.ended);
  CHECK((end.error == 0 || end.error == ECONNRESET || end.error == EPIPE));
  fd_guard second{connect_client(proxy.port())};
  CHECK(round_trip(second.fd, "second") == "second");
  CHECK(proxy.connections_accepted() == 2);
  CHECK(proxy.open_connections() == 1);
}

TEST_CASE("tcp_proxy upstream down: the client's connection is closed", "[proxy]") {
  tcp_proxy proxy(free_port());
  fd_guard client{connect_client(proxy.port())};
  auto end = exchange(client.fd, "", 1, 5s);  // sending nothing: the proxy must notice
  CHECK(end.data.empty());
  CHECK(end.ended);
  CHECK((end.error == 0 || end.error == ECONNRESET || end.error == EPIPE));
  CHECK(proxy.connections_accepted() == 1);
}

TEST_CASE("tcp_proxy backpressure: a stalled upstream stops the client, nothing lost",
          "[proxy]") {
  uint16_t port = 0;
  fd_guard upstream_listener = stalled_listener(port);
  tcp_proxy proxy(port);
  fd_guard client{connect_client(proxy.port())};
  // Send until the sender has been blocked for 500 ms: kernel buffers on the
  // way plus the proxy's 1 MiB bound hold a few MiB (tens when the kernel
  // grows its buffers); an unbounded proxy would take all it gets.
  std::string data(1u << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i % 253);
  size_t sent = 0;
  const size_t limit = size_t{128} << 20;
  while (sent < limit) {
    pollfd p{client.fd, POLLOUT, 0};
    if (poll(&p, 1, 500) == 0)
      break;
    size_t at = sent % data.size();
    ssize_t n = send(client.fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
    REQUIRE((n > 0 || errno == EAGAIN || errno == EINTR));
    sent += n > 0 ? static_cast<size_t>(n) : 0;
  }
  CHECK(sent > (size_t{1} << 20));
  CHECK(sent < limit);
  // The upstream wakes up: every byte arrives, in order.
  fd_guard upstream{accept4(upstream_listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
  REQUIRE(upstream.fd >= 0);
  auto got = exchange(upstream.fd, "", sent, 30s);
  REQUIRE(got.data.size() == sent);
  bool same = true;
  for (size_t i = 0; i < sent && same; ++i)
    same = got.data[i] == data[i % data.size()];
  CHECK(same);
}

TEST_CASE("tcp_proxy one-way loss: only chunks going one way stall", "[proxy]") {
  echo_server echo;
  tcp_proxy proxy(echo.port());
  fd_guard client{connect_client(proxy.port())};
  REQUIRE(round_trip(client.fd, "connected") == "connected");
  // Every chunk going the lossy way is held 1.5 s: a round trip stalls once,
  // where a loss both ways would stall it twice (3 s or more).
  for (auto way : {tcp_proxy::direction::to_upstream, tcp_proxy::direction::to_client}) {
    proxy.lossy(1.0, 1500ms, way);
    auto t0 = steady_clock::now();
    CHECK(round_trip(client.fd, "lossy") == "lossy");
    auto took = steady_clock::now() - t0;
    CHECK(took >= 1500ms);
    CHECK(took < 3000ms);
  }
  proxy.lossy(1.0, 1500ms);
  auto t0 = steady_clock::now();
  CHECK(round_trip(client.fd, "both") == "both");
  CHECK(steady_clock::now() - t0 >= 3000ms);
  proxy.pass();
}
