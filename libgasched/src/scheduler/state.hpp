// Internal: the scheduler actor's state, and the functions its behaviours
// share. The decisions are scheduler_core's; these functions send what it
// decides and keep what only an actor can hold (handles, promises, timers).
#pragma once

#include <chrono>
#include <functional>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/node_id.hpp>
#include <caf/send.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "guarded_actor.hpp"
#include "core/scheduler_core.hpp"
#include "journal/durable_journal.hpp"
#include "journal/pg_leader.hpp"
#include "net/reconnect_episode.hpp"
#include "gasched/scheduler_options.hpp"
#include "gasched/stats.hpp"
#include "gasched/task.hpp"
#include "wire.hpp"

namespace gasched::detail {

/// A node as the actor knows it; the core knows it by index.
struct node_entry {
  node_actor actor;   ///< invalid: the index is unused
  std::string name;   ///< as it introduced itself
  run_batch outbox;   ///< orders not sent yet
  /// Where a node handed to us by address is published (from CAF's
  /// middleman): reconnected there when lost. Empty for local and joined nodes.
  std::string host;
  uint16_t port = 0;
  /// Its acknowledgement in next_commit.acks, if acks[ack_at] is still its.
  size_t ack_at = SIZE_MAX;
};

/// A lost node handed by address, being reconnected.
struct reconnecting {
  std::string name;           ///< the node's name when lost
  reconnect_episode episode;  ///< since it was lost
};

/// What one commit of the journal makes true.
struct held_for_commit {
  std::vector<std::pair<std::vector<task_id>,
                        caf::typed_response_promise<std::vector<task_id>>>> batches;
  std::vector<task_result> results;
  std::vector<caf::typed_response_promise<caf::ok_atom>> notes;
  /// How far each node's numbered outcomes reached (done_batch::first_seq
  /// plus their count): acknowledged once written, so that the node forgets
  /// them (ack_atom).
  std::vector<std::pair<node_actor, uint64_t>> acks;
};

/// A remote client that takes its process's results in batches.
struct subscriber {
  caf::actor who;
  std::vector<task_result> batch;  ///< not sent yet
};

/// What the lease's threads hand the scheduler (lease_atom says when).
struct lease_news {
  std::mutex mx;
  std::unique_ptr<durable_journal> journal;  ///< a standby got the lease and resumed
  caf::error open_error;                     ///< ... or could not resume
  caf::error lost;                           ///< the active lost the lease
  /// The journal in use, cut by the lease's thread the moment the lease is
  /// lost: the actor may be waiting on it (a commit or a read stuck on a
  /// database cut off by the network) and could not step down otherwise.
  std::weak_ptr<durable_journal> in_use;
};

struct scheduler_state {
  // -- what it was given ---------------------------------------------------------
  scheduler_options opts;
  std::string label;                    ///< the name results carry
  retry_policy policy;                  ///< sent with every batch of orders
  // -- tasks and nodes -----------------------------------------------------------
  std::unique_ptr<scheduler_core> core; ///< every decision
  std::vector<node_entry> nodes;        ///< by node_index
  std::unordered_map<caf::actor_addr, node_index> index_of;  ///< node actor -> index
  std::vector<node_index> dirty;        ///< nodes with orders in their outbox
  bool flush_scheduled = false;         ///< a flush_atom waits in the mailbox
  /// A delayed flush_atom looks for stalled nodes (reclaim) until then.
  std::chrono::steady_clock::time_point reclaim_check_at{};
  /// Requests waiting for a task's result.
  std::unordered_multimap<task_id, caf::typed_response_promise<task_result>> awaiters;
  /// Tasks submitted by another process, by the process: only it may await,
  /// cancel or list them.
  std::unordered_map<task_id, caf::node_id> remote_owner;
  /// With a journal, a remote owner may await a task by id after it ended
  /// (a client that lost its connection asks again): the owners of the last
  /// ended_owners_kept ended tasks stay in remote_owner, oldest erased first.
  std::deque<task_id> ended_owned;
  static constexpr size_t ended_owners_kept = 65536;
  /// Ids below this were accepted by an earlier run on the journal: who
  /// submitted them is not journaled, so any peer may await them (only await).
  task_id first_own_id = 1;
  /// Remote clients that subscribed (subscribe_atom), by their process, with
  /// the results not sent yet (subscribers.cpp).
  std::unordered_map<caf::node_id, subscriber> subscribers;
  bool results_flush_scheduled = false;  ///< a results_atom to itself waits
  /// Tasks ended since free heap pages were last handed back (idle_memory.cpp).
  size_t ended_since_trim = 0;
  // -- the journal (opts.journal) ------------------------------------------------
  std::shared_ptr<durable_journal> journal;  ///< null: no journal
  /// Answers and results held until the commit that makes them true: a task
  /// id is promised only once the task is on disk, a result sent only once
  /// its end is (else a restart would run it again and send a second one).
  /// Single ids wait for durable_id(); the rest for their commit.
  std::vector<std::pair<task_id, caf::typed_response_promise<task_id>>> unacked;
  held_for_commit next_commit;  ///< for the commit after the one being written
  held_for_commit in_commit;    ///< for the commit being written
  bool commit_scheduled = false;  ///< a commit_atom from schedule_commit waits
  bool commit_failing = false;    ///< the last commit failed (logged once)
  /// Restored tasks that were running wait for their nodes' claims (until
  /// opts.adopt_wait): nothing is dispatched meanwhile (dispatch.cpp).
  bool claims_open = false;
  /// A changed_atom went to the client and it has not asked for stats since.
  bool client_told = false;
  // -- a journal shared with standbys (PostgreSQL) ---------------------------------
  std::shared_ptr<pg_leader> leader;   ///< null: no shared journal
  std::shared_ptr<lease_news> news;    ///< from the lease's threads
  // -- nodes coming and going ----------------------------------------------------
  uint64_t node_joins = 0;                   ///< first comings
  uint64_t node_losses = 0;                  ///< declared down
  uint64_t node_rejoins = 0;                 ///< back under a name lost before
  std::deque<node_event> node_events;        ///< the latest, oldest first
  std::unordered_set<std::string> lost_names;                ///< lost at least once
  std::unordered_map<std::string, reconnecting> reconnects;  ///< by "host:port"
  /// Tasks pending and no node up since then (zero: not now); a check is
  /// scheduled while no_nodes_check_armed.
  std::chrono::steady_clock::time_point no_nodes_since{};
  bool no_nodes_check_armed = false;
  // -- starting ------------------------------------------------------------------
  size_t hellos_outstanding = 0;  ///< given nodes not answered yet
  bool started = false;           ///< every given node answered or timed out
  caf::error start_error;         ///< none of them answered
  std::vector<caf::typed_response_promise<caf::ok_atom>> ready_waiters;

  static inline const char* name = "gasched.scheduler";
};

using scheduler_self = caf::stateful_actor<scheduler_state, guarded<scheduler_impl::base>>*;

/// Sends to the client (a plain handle: CAF's typed send() refuses those,
/// and the client must still see the scheduler as the sender).
template <class... Ts>
void send_to_client(scheduler_self self, Ts&&... xs) {
  caf::send_as(caf::actor_cast<caf::actor>(self), self->state.opts.client,
               std::forward<Ts>(xs)...);
}

// -- requests (requests.cpp) ---------------------------------------------------

caf::result<std::vector<task_id>> execute_batch(scheduler_self self, std::vector<task>& ts);
caf::result<task_id> execute_one(scheduler_self self, task& t);
caf::result<task_result> await_task(scheduler_self self, task& t);
/// A task already submitted: its result once it ends, or its kept result.
caf::result<task_result> await_id(scheduler_self self, task_id id);
caf::result<caf::ok_atom> cancel_task(scheduler_self self, task_id id);
std::vector<task> unfinished_tasks(scheduler_self self);
/// Commits what ended, fails the awaiters and ends the scheduler.
caf::result<caf::ok_atom> stop(scheduler_self self);
caf::result<caf::ok_atom> set_max_workers(scheduler_self self, uint32_t n);
caf::result<caf::ok_atom> set_retry_timeout(scheduler_self self, caf::timespan d);
caf::result<caf::ok_atom> add_node_request(scheduler_self self, const caf::actor& handle);
/// A node joins by itself (join_atom).
caf::result<caf::ok_atom> join(scheduler_self self, node_info& info);
/// The same, with the leases the node still runs from before a restart or a
/// takeover: answers those adopted (scheduler_core::adopt).
caf::result<lease_list> join(scheduler_self self, node_info& info, lease_list& held);
/// Outcomes a node reports; only the lease's holder is heard.
void take_outcomes(scheduler_self self, done_batch& batch);

// -- memory (idle_memory.cpp) ----------------------------------------------------

/// Tasks that must end before an idle scheduler hands free heap pages back.
constexpr size_t ended_before_trim = 100000;
/// Counts `ended` tasks; once ended_before_trim have and nothing is pending
/// or running, hands the heap's free pages back to the system.
void return_memory_when_idle(scheduler_self self, size_t ended);

// -- results (results.cpp) ------------------------------------------------------

task_result make_result(scheduler_self self, ended_task& t, caf::message value,
                        caf::error error);
/// To the awaiters and the client; forgets the task's owner. With a
/// journal, once the next commit has recorded the task's end.
void deliver(scheduler_self self, task_result&& r);
/// The same, at once.
void deliver_now(scheduler_self self, task_result&& r);
/// Awaiters get an error rather than silence.
void fail_awaiters(scheduler_self self, const std::string& why);
void warn_if_unfinished(scheduler_self self, const std::string& why);
stats make_stats(scheduler_self self);
/// With opts.notify_client_of_changes: tells the client, once until it asks
/// for stats, that what stats show changed beyond its own tasks.
void tell_client(scheduler_self self);

// -- dispatch (dispatch.cpp) ----------------------------------------------------

/// Hands pending tasks to free slots; after every change that may free a
/// slot or add a task.
void pump(scheduler_self self, bool flush_full_nodes = true);
/// Sends the orders of the dirty nodes; with only_full, of those with no free slot.
void flush(scheduler_self self, bool only_full);

// -- subscribers (subscribers.cpp) ---------------------------------------------

caf::result<caf::ok_atom> subscribe(scheduler_self self);
/// Takes `r` for the subscriber of `owner`'s process, if there is one.
bool to_subscriber(scheduler_self self, const caf::node_id& owner, task_result& r);
/// Sends every subscriber's batch (its timer, or before the scheduler ends).
void flush_subscribers(scheduler_self self);
/// A subscriber is gone: whether `source` was one.
bool forget_subscriber(scheduler_self self, const caf::actor_addr& source);

// -- nodes (nodes.cpp) ----------------------------------------------------------

/// How long a hello may take when reconnecting: a cut link must not hold up
/// the next attempt once it heals.
constexpr auto reconnect_timeout = std::chrono::seconds(2);

/// `handed`: given by address (opts.nodes, add_node) rather than joined.
/// `held`: the leases a joining node claims; those adopted go to `adopted`.
caf::error add_node(scheduler_self self, const node_actor& node, const node_info& info,
                    bool handed, const lease_list* held = nullptr,
                    lease_list* adopted = nullptr);
/// The wait for claims is over: what no node claimed runs again.
void release_unadopted(scheduler_self self);
void remove_node(scheduler_self self, node_index n, const caf::error& reason);
/// One attempt to reconnect the node published at `key` ("host:port").
void reconnect(scheduler_self self, const std::string& key);
/// Asks a node who it is.
void hello(scheduler_self self, const node_actor& node, caf::timespan timeout,
           std::function<void(node_info&)> on_info, std::function<void(caf::error&)> on_error);

// -- no node (nodes.cpp) --------------------------------------------------------

/// Tasks pending and no node up: a run that waits must say so, now and then.
void watch_for_no_nodes(scheduler_self self);
void check_no_nodes(scheduler_self self);

// -- the journal (journal.cpp) --------------------------------------------------

/// Whether results and answers wait for a commit.
inline bool journaled(scheduler_self self) {
  return self->state.journal != nullptr;
}
/// A commit after everything now in the mailbox.
void schedule_commit(scheduler_self self);
/// The journal's writer wakes the scheduler (commit_atom) after each commit.
void on_commit_written(scheduler_self self);
/// On commit_atom: takes the outcome of the commit being written and sends
/// what waited for it; starts the next commit unless one is being written.
void commit(scheduler_self self);
/// Writes everything now and waits for the disk; then sends what waited.
/// Before the scheduler ends.
void commit_now(scheduler_self self);
/// (note_atom, key, value) and (note_atom, key).
caf::result<caf::ok_atom> set_note(scheduler_self self, std::string& key, std::string& value);
caf::result<std::string> get_note(scheduler_self self, const std::string& key);
/// A finished task's result from the journal, for await(task_id).
caf::expected<task_result> kept_result(scheduler_self self, task_id id);

// -- the lease (lease.cpp) -------------------------------------------------------

/// The journal's options for opts (and the lease's session name).
journal_options journal_options_for(const scheduler_options& opts, const pg_leader* leader);
/// Starts the lease's thread; what it learns comes as lease_atom.
void start_lease(scheduler_self self);
/// Whether this scheduler is a standby (a shared journal it does not hold).
inline bool is_standby(scheduler_self self) {
  return self->state.leader != nullptr && self->state.journal == nullptr;
}
/// errc::standby naming the active's address.
caf::error standby_error(scheduler_self self);
/// Takes `journal`: restores its tasks into the core. False: it could not
/// (the scheduler ended with the error).
bool take_journal(scheduler_self self, std::shared_ptr<durable_journal> journal);
/// The active lost its lease: it may never commit, answer or deliver
/// again; it fails its awaiters and ends with errc::standby.
void step_down(scheduler_self self, const caf::error& why);

// -- who may do what (access.cpp) -----------------------------------------------

/// Whether the current sender may stop the scheduler, change its limits or
/// add nodes: its own process, its client, or anyone with opts.remote_admin.
/// Refusals are logged; the error says what was refused.
caf::error check_admin(scheduler_self self, const char* what);
/// Whether an exit message may end the scheduler (the same rule; logged if not).
bool exit_allowed(scheduler_self self, const caf::exit_msg& msg);
/// Whether the current sender may await or cancel task `id`.
caf::error check_owner(scheduler_self self, task_id id);
/// Remembers the current sender as the owner of `id` when it is remote.
void note_owner(scheduler_self self, task_id id);
/// Whether the current sender may see task `id` in unfinished.
bool may_see(scheduler_self self, task_id id);

} // namespace gasched::detail
