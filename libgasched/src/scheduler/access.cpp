// Who may do what. The scheduler's own process and its client may do
// anything; so may the remote actors named in scheduler_options::admins.
// Any other peer may submit tasks and read stats, and may await, cancel and
// list only the tasks it submitted. Without TLS every peer that reaches the
// port is a possible stranger; CAF's protocol lets a peer claim any sender,
// so these checks stop mistakes and casual misuse, and TLS keeps strangers
// from the port in the first place.
#include "gasched/errc.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {

namespace {

bool privileged(scheduler_self self, const caf::strong_actor_ptr& who) {
  if (!who)
    return false;
  if (who->node() == self->node())
    return true;
  auto& st = self->state;
  auto addr = who->address();
  if (st.opts.client && st.opts.client.address() == addr)
    return true;
  for (auto& admin : st.opts.admins)
    if (admin && admin.address() == addr)
      return true;
  return false;
}

// One line per refusal, but at most one a second: a peer that keeps asking
// must not flood the log.
void log_refusal(scheduler_self self, const std::string& what) {
  static thread_local std::chrono::steady_clock::time_point last;
  static thread_local uint64_t suppressed = 0;
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::seconds(1)) {
    ++suppressed;
    return;
  }
  last = now;
  log(log_level::warning, "scheduler {}: refused {}{}", self->state.label, what,
      suppressed > 0 ? fmt::format(" ({} more refusals not shown)", suppressed) : "");
  suppressed = 0;
}

std::string sender_text(const caf::strong_actor_ptr& who) {
  return who ? "actor " + std::to_string(who->id()) + " of " + to_string(who->node())
             : "an anonymous sender";
}

} // namespace

caf::error check_admin(scheduler_self self, const char* what) {
  auto& who = self->current_sender();
  if (privileged(self, who))
    return caf::none;
  log_refusal(self, std::string{what} + " from " + sender_text(who));
  return make_error(errc::not_allowed,
                    std::string{what}
                      + " is allowed only from the scheduler's own process, its client "
                        "or an admin (scheduler_options::admins)");
}

bool exit_allowed(scheduler_self self, const caf::exit_msg& msg) {
  auto& st = self->state;
  if (msg.source && msg.source.node() == self->node())
    return true;
  if (st.opts.client && msg.source == st.opts.client.address())
    return true;
  for (auto& admin : st.opts.admins)
    if (admin && msg.source == admin.address())
      return true;
  log_refusal(self, "an exit message (" + self->system().render(msg.reason) + ") from "
                      + (msg.source ? to_string(msg.source.node()) : "an anonymous sender"));
  return false;
}

void note_owner(scheduler_self self, task_id id) {
  auto& who = self->current_sender();
  if (who && who->node() != self->node()) {
    self->state.remote_owner.emplace(id, who->node());
    if (who->address() != self->state.opts.client.address())
      tell_client(self);  // another client's tasks
  }
}

bool may_see(scheduler_self self, task_id id) {
  auto& who = self->current_sender();
  if (privileged(self, who))
    return true;
  auto& owners = self->state.remote_owner;
  auto it = owners.find(id);
  return who && it != owners.end() && it->second == who->node();
}

caf::error check_owner(scheduler_self self, task_id id) {
  if (may_see(self, id))
    return caf::none;
  log_refusal(self, "a request for task " + std::to_string(id) + " from "
                      + sender_text(self->current_sender()));
  return make_error(errc::not_allowed, "task " + std::to_string(id)
                                         + " belongs to another client");
}

} // namespace gasched::detail
