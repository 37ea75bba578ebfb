// Internal: the base of gasched's long-lived actors. CAF makes an exit
// message with exit_reason::kill always fatal, before any exit handler could
// refuse it, so any peer that reaches a published actor could end it. This
// base drops such a message unless it comes from an actor of the same
// process; every other exit message goes to the actor's exit handler, which
// applies the actor's own rule.
#pragma once

#include <caf/event_based_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/system_messages.hpp>

#include "logging.hpp"

namespace gasched::detail {

class guarded_actor : public caf::event_based_actor {
public:
  explicit guarded_actor(caf::actor_config& cfg) : caf::event_based_actor(cfg) {
  }

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override {
    if (what && what->content().match_elements<caf::exit_msg>()) {
      auto& msg = what->content().get_as<caf::exit_msg>(0);
      if (msg.reason == caf::exit_reason::kill && (!msg.source || msg.source.node() != node())) {
        log(log_level::warning, "{} {}: dropped a kill from outside its process", name(), id());
        return;
      }
    }
    caf::event_based_actor::enqueue(std::move(what), host);
  }
};

} // namespace gasched::detail
