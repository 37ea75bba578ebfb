// A loopback port held by a test: bound, so nothing else takes it, and with
// `listening` a socket that listens there but never accepts (the kernel
// completes connections that no program answers); without, connections to it
// are refused.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

struct held_port {
  int fd = -1;
  uint16_t port = 0;

  explicit held_port(bool listening) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    if (listening)
      REQUIRE(listen(fd, 16) == 0);
  }

  held_port(const held_port&) = delete;
  held_port& operator=(const held_port&) = delete;

  ~held_port() {
    close(fd);
  }
};

/// A loopback port free at this moment (bound, then released): for a program
/// started next with a fixed address, as schedulers sharing a journal are.
inline uint16_t free_port() {
  held_port p{false};
  return p.port;
}
