// Remote clients that take their results in batches (subscribe_atom): one
// message per few thousand results instead of one await request per task,
// whose answers CAF 0.17 matches against a linearly searched list of
// outstanding requests. Only a process's own tasks reach its subscriber (as
// only it may await them, access.cpp).
#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {

namespace {

// Results per message at most: large enough that messages are few, small
// enough that one never holds up the scheduler's other work for long.
constexpr size_t batch_limit = 2048;
// How long a result may wait for others to fill its batch.
constexpr auto batch_delay = std::chrono::milliseconds(1);

void send_batch(scheduler_self self, subscriber& sub) {
  if (sub.batch.empty())
    return;
  std::vector<task_result> batch;
  batch.swap(sub.batch);
  caf::send_as(caf::actor_cast<caf::actor>(self), sub.who, results_atom::value,
               std::move(batch));
}

} // namespace

caf::result<caf::ok_atom> subscribe(scheduler_self self) {
  auto& who = self->current_sender();
  if (!who || who->node() == self->node())
    return make_error(errc::invalid_argument,
                      "subscribe is for clients in other processes; a client in the "
                      "scheduler's process is its client (scheduler_options::client)");
  auto& st = self->state;
  auto handle = caf::actor_cast<caf::actor>(who);
  auto& sub = st.subscribers[who->node()];
  if (sub.who && sub.who != handle)
    send_batch(self, sub);  // the older subscriber's last results
  sub.who = handle;
  self->monitor(handle);
  return caf::ok_atom::value;
}

bool to_subscriber(scheduler_self self, const caf::node_id& owner, task_result& r) {
  auto& st = self->state;
  auto it = st.subscribers.find(owner);
  if (it == st.subscribers.end())
    return false;
  auto& sub = it->second;
  sub.batch.push_back(std::move(r));
  if (sub.batch.size() >= batch_limit)
    send_batch(self, sub);
  else if (!st.results_flush_scheduled) {
    st.results_flush_scheduled = true;
    self->delayed_send(self, batch_delay, results_atom::value);
  }
  return true;
}

void flush_subscribers(scheduler_self self) {
  auto& st = self->state;
  st.results_flush_scheduled = false;
  for (auto& [node, sub] : st.subscribers)
    send_batch(self, sub);
}

bool forget_subscriber(scheduler_self self, const caf::actor_addr& source) {
  auto& subs = self->state.subscribers;
  auto it = subs.find(source.node());
  if (it == subs.end() || it->second.who.address() != source)
    return false;
  subs.erase(it);
  return true;
}

} // namespace gasched::detail
