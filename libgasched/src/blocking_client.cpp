#include "gasched/blocking_client.hpp"

#include "gasched/atoms.hpp"

namespace gasched {

blocking_client::blocking_client(caf::actor_system& sys, scheduler_actor scheduler,
                                 caf::timespan timeout, caf::timespan await_timeout)
  : self_(sys), scheduler_(std::move(scheduler)), timeout_(timeout),
    await_timeout_(await_timeout) {
}

template <class T, class... Ts>
caf::expected<T> blocking_client::ask(caf::timespan timeout, Ts&&... xs) {
  caf::expected<T> result{caf::error{}};
  self_->request(scheduler_, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

caf::expected<task_id> blocking_client::execute(task t) {
  return ask<task_id>(timeout_, execute_atom::value, std::move(t));
}

caf::expected<task_result> blocking_client::await(task t) {
  return ask<task_result>(await_timeout_, await_atom::value, std::move(t));
}

caf::expected<task_result> blocking_client::await(task_id id) {
  return ask<task_result>(await_timeout_, await_atom::value, id);
}

caf::error blocking_client::cancel(task_id id) {
  auto ok = ask<caf::ok_atom>(timeout_, cancel_atom::value, id);
  return ok ? caf::error{} : std::move(ok.error());
}

caf::expected<gasched::stats> blocking_client::stats() {
  return ask<gasched::stats>(timeout_, stats_atom::value);
}

caf::expected<std::vector<task>> blocking_client::unfinished() {
  return ask<std::vector<task>>(timeout_, unfinished_atom::value);
}

caf::error blocking_client::stop() {
  auto ok = ask<caf::ok_atom>(timeout_, stop_atom::value);
  return ok ? caf::error{} : std::move(ok.error());
}

} // namespace gasched
