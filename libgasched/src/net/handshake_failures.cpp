#include "net/handshake_failures.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <mutex>

#include <openssl/ssl.h>

namespace gasched::detail {

namespace {

using clock_type = std::chrono::steady_clock;

struct noted {
  handshake_failure what;
  clock_type::time_point when;
};

std::mutex mtx;
std::map<uint16_t, noted> by_port;  // bounded by the ports this process connects to
struct peer {
  uint16_t port = 0;
  const void* noted_for = nullptr;  // the connection whose failure was noted
};
std::map<int, peer> peer_of_fd;  // bounded by the descriptors open at once

std::optional<uint16_t> getpeername_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return std::nullopt;
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6&>(addr).sin6_port);
  return std::nullopt;
}

handshake_failure classify(int ssl_error, int reason) {
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN
      || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
    return handshake_failure::closed;
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return handshake_failure::not_our_ca;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return handshake_failure::refused_ours;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return handshake_failure::plain_text;
    default:
      return handshake_failure::other;
  }
}

} // namespace

void note_handshake_peer(int fd) {
  if (auto port = getpeername_port(fd)) {
    std::lock_guard<std::mutex> guard{mtx};
    peer_of_fd[fd].port = *port;
  }
}

void note_handshake_failure(int fd, const void* connection, int ssl_error, int reason) {
  std::lock_guard<std::mutex> guard{mtx};
  auto i = peer_of_fd.find(fd);
  if (i == peer_of_fd.end())
    return;  // never seen connected: nothing to tell a later message
  if (i->second.noted_for == connection)
    return;  // CAF calls again after a failure; OpenSSL then says less
  i->second.noted_for = connection;
  by_port[i->second.port] = noted{classify(ssl_error, reason), clock_type::now()};
}

std::optional<handshake_failure> recent_handshake_failure(uint16_t port) {
  std::lock_guard<std::mutex> guard{mtx};
  auto i = by_port.find(port);
  if (i == by_port.end() || clock_type::now() - i->second.when > std::chrono::seconds(10))
    return std::nullopt;
  return i->second.what;
}

} // namespace gasched::detail
