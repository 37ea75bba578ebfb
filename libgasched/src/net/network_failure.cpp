#include "net/network_failure.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <caf/sec.hpp>

#include "net/handshake_failures.hpp"
#include "net/tls.hpp"

namespace gasched::detail {

namespace {

using addresses = std::unique_ptr<addrinfo, void (*)(addrinfo*)>;

addresses resolve(const std::string& host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
    found = nullptr;
  return addresses{found, [](addrinfo* a) {
                     if (a)
                       freeaddrinfo(a);
                   }};
}

std::string no_such_host(const std::string& host) {
  return "no such host: " + host + " (check the address; a name must resolve here)";
}

// The errno of binding host:port as CAF does (SO_REUSEADDR), 0 if it binds.
int bind_errno(const addrinfo& a) {
  int fd = ::socket(a.ai_family, a.ai_socktype | SOCK_CLOEXEC, a.ai_protocol);
  if (fd < 0)
    return errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int result = ::bind(fd, a.ai_addr, a.ai_addrlen) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

// Whether the peer at host:port sends first. A plain-text CAF peer does (its
// handshake, at once); a TLS one waits for our ClientHello. Tells "the peer
// speaks plain text" from "the peer refused our certificate", which CAF
// reports alike. Blocks for `patience` at most, on a failure path only.
bool speaks_first(const std::string& host, uint16_t port, int patience_ms = 500) {
  auto found = resolve(host, port, false);
  if (!found)
    return false;
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0)
    return false;
  bool result = false;
  if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
    pollfd p{fd, POLLIN, 0};
    char byte = 0;
    result = poll(&p, 1, patience_ms) == 1 && ::recv(fd, &byte, 1, MSG_PEEK) == 1;
  }
  ::close(fd);
  return result;
}

std::string tls_handshake_failure(const std::string& host, uint16_t port) {
  const std::string same_ca = "Every process of a cluster needs a certificate of the same CA "
                              "(--tls DIR, made with gasched-certs from the cluster's CA)";
  // What OpenSSL saw, when it saw it; else what a probe can tell.
  switch (recent_handshake_failure(port).value_or(handshake_failure::other)) {
    case handshake_failure::closed:
      return "the peer closed the connection during the TLS handshake, before any certificate "
             "was checked: it may be stopping, stopped (kill -STOP) or restarting, or a proxy in "
             "front of it has nothing to forward to";
    case handshake_failure::not_our_ca:
      return "the TLS handshake failed: the peer's certificate is not of this process's CA. "
             + same_ca;
    case handshake_failure::refused_ours:
      return "the TLS handshake failed: the peer refused this process's certificate (not of its "
             "CA). " + same_ca;
    case handshake_failure::plain_text:
    case handshake_failure::other:
      break;
  }
  if (speaks_first(host, port))
    return "the TLS handshake failed: the peer speaks plain text (it was started without "
           "--tls): give every process of a cluster --tls DIR, or none";
  return "the TLS handshake failed: the peer's certificate is not of this process's CA, or "
         "it refused ours. " + same_ca;
}

} // namespace

std::string listen_failure(const std::string& host, uint16_t port, const std::string& options) {
  auto found = resolve(host, port, true);
  if (!found)
    return no_such_host(host);
  auto err = bind_errno(*found);
  auto p = std::to_string(port);
  switch (err) {
    case EADDRINUSE:
      return "port " + p + " is in use by another process: choose another port, or 0 for "
             "any free one (" + options + ")";
    case EADDRNOTAVAIL:
      return host + " is not an address of this machine: listen on one of its addresses, "
                    "or on 0.0.0.0 for all of them";
    case EACCES:
      return "port " + p + " is privileged: choose one of 1024 or above";
    case 0:
      return "the port was taken meanwhile, or refused: try again";
    default:
      return std::strerror(err);
  }
}

std::string connect_failure(caf::actor_system& sys, const caf::error& err,
                            const std::string& host, uint16_t port) {
  auto tls = tls_enabled(sys);
  if (err == caf::sec::disconnect_during_handshake)
    return tls ? tls_handshake_failure(host, port)
               : "it closed the connection during the handshake: it most likely uses TLS, "
                 "and this process has no certificate. Give it one of the same CA (--tls "
                 "DIR; gasched::init's tls_options), or this is no gasched process";
  if (err == caf::sec::cannot_connect_to_node) {
    if (!resolve(host, port, false))
      return no_such_host(host);
    if (err.context().empty() && tls)
      return tls_handshake_failure(host, port);
    if (!err.context().empty())
      return "nothing accepts connections at " + host + ":" + std::to_string(port)
             + ": check the address, and that the scheduler (gasched-run --listen) or the "
               "node (gasched-node --port) runs there";
  }
  return sys.render(err);
}

} // namespace gasched::detail
