// A node's outbox toward a scheduler with a journal: each outcome it sends
// stays until the scheduler acknowledges its number (it may die before its
// journal holds the end), and when that scheduler is lost the node keeps
// for the next one exactly the outcomes not acknowledged.
#include "actor_support.hpp"

#include "node/outbox.hpp"

using namespace gasched;
using namespace gasched::testing;

namespace {

// Stands for a scheduler: hands each batch of outcomes to `client`.
detail::scheduler_for_nodes::behavior_type
forwarding(detail::scheduler_for_nodes::pointer, caf::actor client) {
  return {
    [](join_atom, const detail::node_info&) { return caf::ok_atom::value; },
    [](join_atom, const detail::node_info&, const detail::lease_list&) {
      return detail::lease_list{};
    },
    [=](done_atom, detail::done_batch& batch) { caf::anon_send(client, std::move(batch)); },
  };
}

detail::run_outcome outcome_of(task_id id) {
  detail::run_outcome o;
  o.id = id;
  o.epoch = 7;
  o.value = caf::make_message(static_cast<int32_t>(id));
  return o;
}

} // namespace

TEST_CASE("outbox: a scheduler that acknowledges gets its outcomes numbered, and losing it "
          "keeps only those it had not acknowledged",
          "[actor][ack]") {
  cluster c;
  auto sched = c.sys().spawn(forwarding, caf::actor{c.self()});
  // The actor the outcomes come from (the node): nothing is asked of it here.
  // (An argument: CAF 0.17 dereferences a null tuple for an actor without one.)
  auto node = c.sys().spawn([](int32_t) -> caf::behavior { return {[](flush_atom) {}}; }, 0);
  detail::outbox box{node.address()};
  auto next_batch = [&] {
    detail::done_batch batch;
    c.self()->receive([&](detail::done_batch& x) { batch = std::move(x); },
                      caf::after(10s) >> [] { FAIL("no batch of outcomes came"); });
    return batch;
  };
  auto ids = [](const detail::done_batch& b) {
    std::vector<task_id> result;
    for (auto& o : b.outcomes)
      result.push_back(o.id);
    return result;
  };
  // A scheduler without a journal: nothing numbered, nothing kept.
  box.post(sched, outcome_of(1), false);
  auto b = next_batch();
  CHECK(b.first_seq == 0);
  CHECK(ids(b) == std::vector<task_id>{1});
  // From its first acknowledgement (0) on, numbered from 1 in the order sent.
  box.acked(sched.address(), 0);
  box.post(sched, outcome_of(2), false);
  b = next_batch();
  CHECK(b.first_seq == 1);
  CHECK(ids(b) == std::vector<task_id>{2});
  std::vector<std::pair<detail::scheduler_for_nodes, detail::run_outcome>> two;
  two.emplace_back(sched, outcome_of(3));
  two.emplace_back(sched, outcome_of(4));
  box.post_all(two, false);
  b = next_batch();
  CHECK(b.first_seq == 2);
  CHECK(ids(b) == std::vector<task_id>{3, 4});
  // Numbers 1 and 2 (tasks 2 and 3) are in its journal; 3 (task 4) is not yet.
  box.acked(sched.address(), 3);
  box.hold(sched.address());
  CHECK(box.kept() == std::vector<detail::outbox::lease>{{4, 7}});
  // Acknowledged again after it was lost: too late, nothing more is dropped.
  box.acked(sched.address(), 4);
  CHECK(box.kept() == std::vector<detail::outbox::lease>{{4, 7}});
  c.self()->send_exit(sched, caf::exit_reason::user_shutdown);
  c.self()->send_exit(node, caf::exit_reason::user_shutdown);
}
