// A workaround for CAF 0.17's OpenSSL streams, which spin while a TLS
// handshake waits for the peer.
//
// A connecting stream is registered for writing from the start (its BASP
// handshake is queued behind the TLS one). Each "writable" event makes CAF
// call SSL_connect, which asks to read (the peer has not answered); CAF
// reports that as a write of 0 bytes and stays registered for writing, and
// the socket, writable at once, wakes the event loop again: a busy loop for
// as long as the peer is silent (a scheduler stopped by kill -STOP: measured
// 12-20 % of a core per node, and per pending connection).
//
// gasched notes each handshake step that asked to read (interposed
// SSL_connect and SSL_accept, net/handshake_wait.hpp) and replaces the
// multiplexer's handle_socket_event (called through the PLT from CAF's own
// library): a "writable" event for such a socket is not passed on; instead
// the socket is registered for reading in epoll ("parked"), CAF's own
// registration kept aside. The next event on a parked socket (the peer
// answered, closed or reset) restores CAF's registration and is passed on as
// the events CAF registered for, writable included, so that CAF's next
// handshake step runs exactly where it would have. epoll_ctl is interposed
// to know CAF's registrations; CAF changing one un-parks the socket.
#include "net/handshake_wait.hpp"

#include <dlfcn.h>
#include <sys/epoll.h>

#include <mutex>
#include <set>
#include <unordered_map>

#include <caf/io/network/default_multiplexer.hpp>

namespace gasched::detail {

namespace {

struct registration {
  int epfd = -1;
  epoll_event asked{};  // as CAF asked for it
  bool parked = false;
};

std::mutex mtx;
std::unordered_map<int, registration> registrations;  // by socket
std::set<int> waiting_to_read;  // sockets whose handshake step asked to read

using epoll_ctl_fn = int (*)(int, int, int, epoll_event*);

epoll_ctl_fn real_epoll_ctl() {
  static auto fn = reinterpret_cast<epoll_ctl_fn>(dlsym(RTLD_NEXT, "epoll_ctl"));
  return fn;
}

} // namespace

void handshake_step(int fd, bool wants_read) {
  std::lock_guard<std::mutex> guard{mtx};
  if (wants_read)
    waiting_to_read.insert(fd);
  else
    waiting_to_read.erase(fd);
}

} // namespace gasched::detail

using namespace gasched::detail;

extern "C" int epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  auto result = real_epoll_ctl()(epfd, op, fd, event);
  if (result != 0)
    return result;
  std::lock_guard<std::mutex> guard{mtx};
  if (op == EPOLL_CTL_DEL) {
    registrations.erase(fd);
    waiting_to_read.erase(fd);
  } else if (event) {
    registrations[fd] = registration{epfd, *event, false};
  }
  return result;
}

namespace caf::io::network {

void default_multiplexer::handle_socket_event(native_socket fd, int mask, event_handler* ptr) {
  using fn = void (*)(default_multiplexer*, native_socket, int, event_handler*);
  static auto real = [] {
    const char* name = "_ZN3caf2io7network19default_multiplexer19handle_socket_eventEiiPNS1_"
                       "13event_handlerE";
    void* lib = dlopen("libcaf_io.so.0.17.6", RTLD_NOW | RTLD_NOLOAD);
    void* sym = lib ? dlsym(lib, name) : nullptr;
    return reinterpret_cast<fn>(sym ? sym : dlsym(RTLD_NEXT, name));
  }();
  {
    std::unique_lock<std::mutex> guard{mtx};
    auto i = registrations.find(fd);
    if (i != registrations.end() && i->second.parked) {
      // The peer answered, closed or reset: CAF's registration back, and
      // the events it registered for passed on.
      auto& r = i->second;
      r.parked = false;
      auto asked = r.asked;
      auto epfd = r.epfd;
      guard.unlock();
      real_epoll_ctl()(epfd, EPOLL_CTL_MOD, fd, &asked);
      int passed = mask & (EPOLLERR | EPOLLHUP | EPOLLRDHUP);
      if (asked.events & EPOLLIN)
        passed |= mask & EPOLLIN;
      if (asked.events & EPOLLOUT)
        passed |= EPOLLOUT;
      if (passed != 0)
        real(this, fd, passed, ptr);
      return;
    }
    bool only_writable = (mask & EPOLLOUT) && !(mask & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP));
    if (only_writable && i != registrations.end() && waiting_to_read.count(fd)) {
      auto& r = i->second;
      epoll_event readable = r.asked;
      readable.events = (r.asked.events & ~EPOLLOUT) | EPOLLIN;
      if (real_epoll_ctl()(r.epfd, EPOLL_CTL_MOD, fd, &readable) == 0) {
        r.parked = true;
        return;  // the write would only ask to read again
      }
    }
  }
  real(this, fd, mask, ptr);
}

} // namespace caf::io::network
