// Internal: the protocol between schedulers and nodes, and the messages
// actors send themselves. Results travel back in batches and dispatches go
// out in batches: CAF carries about 200k messages a second over one
// connection, far fewer than the tasks a cluster can finish.
//
//   scheduler                                         node
//      |  (hello_atom) -> node_info            ───>    |   a node handed to the scheduler
//      |  <───  (join_atom, node_info) -> ok           |   a node that joins by address
//      |  <───  (join_atom, node_info, lease_list)     |   the same, with the leases it
//      |          -> lease_list                        |   still runs: those adopted
//      |  (run_atom, run_batch)                ───>    |   orders, each under a lease
//      |  (cancel_atom, task_id, epoch)        ───>    |
//      |  <───  (done_atom, done_batch)                |   outcomes, each naming its lease
//
// A scheduler or a node takes these from peers it knows (nodes it greeted or
// that joined; schedulers it joined or that greeted it); the rest are dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "gasched/scheduler_actor.hpp"
#include "gasched/task.hpp"

namespace gasched {

/// node -> scheduler: (join_atom, node_info) -> ok
using join_atom = caf::atom_constant<caf::atom("join")>;
/// scheduler -> node: (hello_atom) -> node_info
using hello_atom = caf::atom_constant<caf::atom("hello")>;
/// scheduler -> node: (run_atom, run_batch)
using run_atom = caf::atom_constant<caf::atom("run")>;
/// a node's task-worker actors (same process only): the next
/// attempt's timer; a blocking call's result from the worker's thread
using worker_retry_atom = caf::atom_constant<caf::atom("wretry")>;
using worker_result_atom = caf::atom_constant<caf::atom("wresult")>;
/// node -> scheduler: (done_atom, done_batch)
using done_atom = caf::atom_constant<caf::atom("done")>;
/// spawn_scheduler -> scheduler: (ready_atom) -> ok once the given nodes answered
using ready_atom = caf::atom_constant<caf::atom("ready")>;
/// run_node -> its node, before any task: (rename_atom, std::string)
using rename_atom = caf::atom_constant<caf::atom("rename")>;
/// self-addressed: send the batched dispatches now
using flush_atom = caf::atom_constant<caf::atom("flush")>;
/// self-addressed: commit the journal, then answer what waited for it
using commit_atom = caf::atom_constant<caf::atom("commit")>;
/// self-addressed: try to join the scheduler again
using rejoin_atom = caf::atom_constant<caf::atom("rejoin")>;
/// self-addressed: try to reconnect a lost node handed by address
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
/// self-addressed: are there still tasks pending and no node?
using no_nodes_atom = caf::atom_constant<caf::atom("no_nodes")>;
/// self-addressed (node): the bound on keeping a lost scheduler's tasks is over
using orphans_atom = caf::atom_constant<caf::atom("orphans")>;
/// self-addressed: the wait for nodes to claim their tasks after a restart is over
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
/// A scheduler to its nodes: it is a standby now (it stepped down, its lease
/// lost); the active scheduler is at the address given ("HOST:PORT", or empty).
using standby_atom = caf::atom_constant<caf::atom("standby")>;
/// A scheduler with a journal to a node that joined it: (ack_atom, uint64_t
/// upto), the ends of the outcomes the node numbered below `upto`
/// (done_batch::first_seq) are in its journal, so the node may forget them;
/// the first, 0, comes before any order and says that this scheduler
/// acknowledges (until then the node keeps and numbers nothing it delivered).
/// A number per batch, not a lease per task: the scheduler receives a node's
/// batches in the order sent, and acknowledges late outcomes too.
using ack_atom = caf::atom_constant<caf::atom("ack")>;
/// The lease's thread to its scheduler (as the scheduler itself): it got
/// the lease and resumed the journal, or it lost the lease.
using lease_atom = caf::atom_constant<caf::atom("lease")>;

} // namespace gasched

namespace gasched::detail {

/// A node introduces itself: how it is called and how many tasks it runs at once.
struct node_info {
  std::string name;
  uint32_t slots = 0;  // 0: as many as the scheduler's max_workers
};

/// Leases (ids[i], epochs[i]). A node joining in join mode names those it
/// still runs (or holds the outcome of) for a scheduler it lost; the answer
/// names those the scheduler adopts (scheduler_core::adopt): they run on and
/// their outcomes count. The node cancels the others. Nothing in it depends on
/// the journal behind the scheduler (SQLite or PostgreSQL).
struct lease_list {
  std::vector<task_id> ids;
  std::vector<uint32_t> epochs;
};

/// How a node retries a failing task (scheduler_options' retry settings).
struct retry_policy {
  uint32_t max_retries = 10;
  caf::timespan retry_timeout{0};
  double backoff = 1.0;
  caf::timespan backoff_max{0};
  bool jitter = false;
};

/// Run function(args) under lease (id, epoch).
struct run_order {
  task_id id = 0;
  uint32_t epoch = 0;
  std::string function;
  caf::message args;
};

struct run_batch {
  retry_policy policy;
  uint32_t capacity = 0;  // how many of this scheduler's tasks the node may run at once
  std::vector<run_order> orders;
};

/// How the run under lease (id, epoch) ended: a value, or an error.
/// run_us and wait_us (UINT32_MAX: not measured) feed the adaptive prefetch:
/// time in the function, retries included, and held before a thread took it.
struct run_outcome {
  task_id id = 0;
  uint32_t epoch = 0;
  caf::message value;
  caf::error error;
  uint32_t run_us = UINT32_MAX;
  uint32_t wait_us = UINT32_MAX;
};

/// Outcomes of one node to one scheduler. first_seq: the node's number of the
/// first, the others follow it (0: the scheduler does not acknowledge).
struct done_batch {
  uint64_t first_seq = 0;
  std::vector<run_outcome> outcomes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("gasched::node_info"), x.name, x.slots);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_list& x) {
  return f(caf::meta::type_name("gasched::lease_list"), x.ids, x.epochs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_policy& x) {
  return f(caf::meta::type_name("gasched::retry_policy"), x.max_retries,
           x.retry_timeout, x.backoff, x.backoff_max, x.jitter);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_order& x) {
  return f(caf::meta::type_name("gasched::run_order"), x.id, x.epoch, x.function,
           x.args);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_batch& x) {
  return f(caf::meta::type_name("gasched::run_batch"), x.policy, x.capacity, x.orders);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("gasched::run_outcome"), x.id, x.epoch, x.value,
           x.error, x.run_us, x.wait_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, done_batch& x) {
  return f(caf::meta::type_name("gasched::done_batch"), x.first_seq, x.outcomes);
}

// -- the typed interfaces --------------------------------------------------------

/// A node as schedulers see it.
using node_actor = caf::typed_actor<
  caf::replies_to<hello_atom>::with<node_info>,
  caf::reacts_to<run_atom, run_batch>,
  caf::reacts_to<cancel_atom, task_id, uint32_t>,  // the lease (id, epoch)
  caf::reacts_to<standby_atom, std::string>,      // the active's address
  caf::reacts_to<ack_atom, uint64_t>>;            // ends now durable

/// The node actor itself: also what its own process and timers send it.
using node_impl = node_actor::extend<
  caf::reacts_to<rename_atom, std::string>,
  caf::reacts_to<flush_atom>,
  caf::reacts_to<rejoin_atom>,
  caf::reacts_to<orphans_atom, uint64_t>>;  // its timer: stop keeping the lost tasks

/// A scheduler as its nodes see it.
using scheduler_for_nodes = caf::typed_actor<
  caf::replies_to<join_atom, node_info>::with<caf::ok_atom>,
  caf::replies_to<join_atom, node_info, lease_list>::with<lease_list>,
  caf::reacts_to<done_atom, done_batch>>;

/// The scheduler actor itself: its clients' interface, its nodes', the answer
/// spawn_scheduler waits for, and its own timers.
using scheduler_impl = scheduler_actor::extend_with<scheduler_for_nodes>::extend<
  caf::replies_to<ready_atom>::with<caf::ok_atom>,
  caf::reacts_to<flush_atom>,
  caf::reacts_to<reconnect_atom, std::string>,
  caf::reacts_to<no_nodes_atom>,
  caf::reacts_to<commit_atom>,
  caf::reacts_to<lease_atom>,
  caf::reacts_to<results_atom>,   // its own timer: send the subscribers' batches
  caf::reacts_to<adopt_atom>>;    // its own timer: what no node claimed runs again

} // namespace gasched::detail
