// A workaround for CAF 0.17's socket event loop, which loses a connection's
// descriptor when the connection is closed in the same loop round that
// registered it.
//
// The multiplexer queues each change of a socket's registration (add or
// remove reading, writing) and applies them together after the round,
// squashing the changes of one socket into one. A stream holds a reference
// to its own manager for each direction it is registered for, dropped when
// the multiplexer calls removed_from_loop(direction) as it applies a removal.
// A connection that starts reading and is closed before the round ends has
// "add reading" and "remove reading" squashed into nothing: removed_from_loop
// is never called, the stream keeps itself alive, and its socket stays open
// forever (out of the loop, in no kernel table once the peer closes).
// CAF's BASP broker does exactly that when its heartbeat tick closes a
// connection still in its handshake (the tick treats a connection that never
// received anything as silent since the epoch): a node or client trying to
// join a scheduler that is stopped or slow lost a descriptor every few
// attempts (measured in the soak: 1-3 per node over half an hour).
//
// gasched replaces the multiplexer's add, del and handle_internal_events
// (called through the PLT from CAF's own library; each calls CAF's own
// definition): it notes each direction added to a socket not registered for
// it, and when that direction is removed again before the round's changes are
// applied, it calls removed_from_loop for it once they are. The handler is
// alive then: the reference the squash left behind holds it.
#include <dlfcn.h>

#include <algorithm>
#include <utility>
#include <vector>

#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/event_handler.hpp>
#include <caf/io/network/operation.hpp>

namespace caf::io::network {

namespace {

template <class Fn>
Fn caf_io(const char* name) {
  // CAF's own definition, found in its library whatever the load order.
  void* lib = dlopen("libcaf_io.so.0.17.6", RTLD_NOW | RTLD_NOLOAD);
  void* sym = lib ? dlsym(lib, name) : nullptr;
  if (!sym)
    sym = dlsym(RTLD_NEXT, name);
  return reinterpret_cast<Fn>(sym);
}

using change_fn = void (*)(default_multiplexer*, operation, native_socket, event_handler*);
using apply_fn = void (*)(default_multiplexer*);

using registration = std::pair<event_handler*, operation>;

int bit(operation op) {
  return op == operation::read ? input_mask : op == operation::write ? output_mask : 0;
}

// Per multiplexer thread (each actor system has its own): the directions
// added this round to a socket not registered for them, and those of them
// removed again before the round's changes were applied.
thread_local std::vector<registration> added_this_round;
thread_local std::vector<registration> squashed;

void forget(std::vector<registration>& v, const registration& r) {
  v.erase(std::remove(v.begin(), v.end(), r), v.end());
}

} // namespace

void default_multiplexer::add(operation op, native_socket fd, event_handler* ptr) {
  static auto real = caf_io<change_fn>(
    "_ZN3caf2io7network19default_multiplexer3addENS1_9operationEiPNS1_13event_handlerE");
  if (ptr && bit(op) != 0 && (ptr->eventbf() & bit(op)) == 0) {
    forget(squashed, {ptr, op});
    added_this_round.emplace_back(ptr, op);
  }
  real(this, op, fd, ptr);
}

void default_multiplexer::del(operation op, native_socket fd, event_handler* ptr) {
  static auto real = caf_io<change_fn>(
    "_ZN3caf2io7network19default_multiplexer3delENS1_9operationEiPNS1_13event_handlerE");
  real(this, op, fd, ptr);
  registration r{ptr, op};
  if (ptr && std::find(added_this_round.begin(), added_this_round.end(), r)
               != added_this_round.end()) {
    forget(added_this_round, r);
    squashed.push_back(r);
  }
}

void default_multiplexer::handle_internal_events() {
  static auto real = caf_io<apply_fn>(
    "_ZN3caf2io7network19default_multiplexer22handle_internal_eventsEv");
  real(this);
  added_this_round.clear();
  auto lost = std::move(squashed);
  squashed.clear();
  for (auto& [ptr, op] : lost)
    ptr->removed_from_loop(op);  // may destroy it: nothing here touches it after
}

} // namespace caf::io::network
