// The message tags of a scheduler's public protocol (the internal ones, between
// schedulers and nodes, are private to the library). CAF 0.17 atoms hold at
// most 10 characters, so the atom text is sometimes shorter than the C++ name.
#pragma once

#include <caf/atom.hpp>

namespace gasched {

// -- requests a client sends to a scheduler -------------------------------------

/// (execute_atom, task) -> task_id;  (execute_atom, std::vector<task>) -> std::vector<task_id>
using execute_atom = caf::atom_constant<caf::atom("execute")>;
/// (await_atom, task) -> task_result once it ends;  (await_atom, task_id) -> task_result
using await_atom = caf::atom_constant<caf::atom("await")>;
/// (cancel_atom, task_id) -> ok (with a journal: once on disk), or errc::unknown_task
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
/// (stats_atom) -> gasched::stats
using stats_atom = caf::atom_constant<caf::atom("stats")>;
/// (unfinished_atom) -> std::vector<task>: pending in queue order, then running
using unfinished_atom = caf::atom_constant<caf::atom("unfinished")>;
/// (add_node_atom, caf::actor) -> ok, or errc::node_not_found
using add_node_atom = caf::atom_constant<caf::atom("add_node")>;
/// (set_max_workers_atom, uint32_t) -> ok
using set_max_workers_atom = caf::atom_constant<caf::atom("set_maxw")>;
/// (get_max_workers_atom) -> uint32_t
using get_max_workers_atom = caf::atom_constant<caf::atom("get_maxw")>;
/// (set_retry_timeout_atom, caf::timespan) -> ok
using set_retry_timeout_atom = caf::atom_constant<caf::atom("set_retryt")>;
/// (stop_atom) -> ok, or errc::not_empty; the scheduler stops either way
using stop_atom = caf::atom_constant<caf::atom("stop")>;
/// (note_atom, std::string key, std::string value) -> ok once the note is on disk,
/// in the same commit as every change before it; (note_atom, std::string key) ->
/// std::string, the value last stored ("" if none), also after a restart. A
/// client's own bookkeeping kept in the scheduler's journal (gasched-run keeps how
/// far its output file is durable). errc::journal_error without a journal; from
/// the scheduler's process, its client or an admin only.
using note_atom = caf::atom_constant<caf::atom("note")>;

/// (subscribe_atom) -> ok: from then on the scheduler streams the results of
/// the tasks the sender's process submits to the sender, in batches
/// (results_atom), instead of one answer per await request. What a remote
/// client that submits many tasks uses: CAF 0.17 searches an actor's
/// outstanding requests linearly, so thousands of awaits in flight cost
/// O(n) per answer. A newer subscription from the same process replaces the
/// older one; it ends when the subscriber does.
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;

// -- a scheduler to its client ---------------------------------------------------

/// (results_atom, std::vector<task_result>) to a subscriber: at most a few
/// thousand results, sent when that many are ready or about a millisecond
/// after the first of them; each result once.
using results_atom = caf::atom_constant<caf::atom("results")>;

/// (changed_atom), with scheduler_options::notify_client_of_changes: nodes
/// joined or left, or another client submitted tasks, since the client last
/// asked for stats; sent once until it asks again.
using changed_atom = caf::atom_constant<caf::atom("changed")>;

} // namespace gasched
