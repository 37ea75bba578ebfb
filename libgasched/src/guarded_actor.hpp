// Internal: the base of gasched's long-lived actors, which any peer that
// reaches their port can message. CAF 0.17 obeys some contents whoever sends
// them, and a peer writes their fields as it likes:
// - an exit_msg ends the actor (exit_reason::kill even before its exit
//   handler), and its source can name this very actor (anon_send_exit does);
// - a down_msg says that a monitored actor ended;
// - a lone caf::error ends the actor (CAF's default error handler);
// - a message nothing matches is printed on stdout (print_and_drop).
// So this base admits an exit_msg or a down_msg only when CAF sent it (its
// source has ended: a link or a monitor fired) or when it is an exit from
// this process; the actor's exit handler then applies its own rule. A lone
// error and an unmatched message are dropped with a log line, at most one a
// second.
#pragma once

#include <atomic>
#include <chrono>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "logging.hpp"

namespace gasched::detail {

// Logs one line a second at most: a peer that keeps sending must not flood
// the log.
inline void log_dropped(caf::scheduled_actor* self, const std::string& what) {
  static std::atomic<int64_t> last{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto prev = last.load();
  if (now - prev < std::chrono::steady_clock::duration{std::chrono::seconds(1)}.count()
      || !last.compare_exchange_strong(prev, now))
    return;
  log(log_level::warning, "{} {}: dropped {} (more are not logged for a second)",
      self->name(), self->id(), what);
}

/// The default handler: a message that no handler takes is dropped (and a
/// request answered with unexpected_message).
inline caf::result<caf::message> drop_unexpected(caf::scheduled_actor* self,
                                                 caf::message_view&) {
  log_dropped(self, "a message it does not understand");
  return caf::sec::unexpected_message;
}

// Whether the source has ended (or is gone): CAF marks an actor ended before
// it tells its links and monitors.
inline bool source_ended(const caf::actor_addr& source) {
  if (!source)
    return false;
  auto ptr = caf::actor_cast<caf::strong_actor_ptr>(source);
  return !ptr || ptr->get()->getf(caf::abstract_actor::is_terminated_flag);
}

/// `Base`: caf::event_based_actor, or a typed_event_based_actor (the
/// scheduler's and the node's typed interfaces).
template <class Base>
class guarded : public Base {
public:
  explicit guarded(caf::actor_config& cfg) : Base(cfg) {
    this->set_error_handler([](caf::scheduled_actor* self, caf::error& err) {
      log_dropped(self, "an error message (" + self->system().render(err) + ")");
    });
    this->set_default_handler(drop_unexpected);
  }

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override {
    if (what && !admitted(*what, host)) {
      log_dropped(this, "a forged exit or down message");
      return;
    }
    Base::enqueue(std::move(what), host);
  }

private:
  bool admitted(const caf::mailbox_element& what, caf::execution_unit* host) const {
    auto& content = what.content();
    if (content.match_elements<caf::down_msg>())
      return source_ended(content.get_as<caf::down_msg>(0).source);
    if (!content.match_elements<caf::exit_msg>())
      return true;
    auto& msg = content.get_as<caf::exit_msg>(0);
    auto kill = msg.reason == caf::exit_reason::kill;
    if (source_ended(msg.source))  // a link fired; a kill only from this process
      return !kill || msg.source.node() == this->node();
    // An order to exit: from an actor of this process (send_exit), from a
    // peer's actor naming itself (its exit handler decides; never a kill),
    // or from no actor: anon_send_exit in this process, which passes no
    // execution unit. A peer's message comes on the middleman's, always.
    if (auto& sender = what.sender)
      return sender->node() == this->node() || (!kill && msg.source == sender->address());
    return host == nullptr;
  }
};

} // namespace gasched::detail
