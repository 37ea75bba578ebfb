// The message tags a scheduler and a node understand. CAF 0.17 atoms hold at
// most 10 characters, so the atom text is sometimes shorter than the C++ name.
#pragma once

#include <caf/atom.hpp>

namespace gasched {

// -- requests a client sends to a scheduler -------------------------------------

/// (execute_atom, task) -> task_id;  (execute_atom, std::vector<task>) -> std::vector<task_id>
using execute_atom = caf::atom_constant<caf::atom("execute")>;
/// (await_atom, task) -> task_result once it ends;  (await_atom, task_id) -> task_result
using await_atom = caf::atom_constant<caf::atom("await")>;
/// (cancel_atom, task_id) -> ok, or errc::unknown_task
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

// -- a scheduler to its client ---------------------------------------------------

/// (changed_atom), with scheduler_options::notify_client_of_changes: nodes
/// joined or left, or another client submitted tasks, since the client last
/// asked for stats; sent once until it asks again.
using changed_atom = caf::atom_constant<caf::atom("changed")>;

// -- between schedulers and nodes (internal protocol) --------------------------

/// node -> scheduler: (join_atom, node_info) -> ok
using join_atom = caf::atom_constant<caf::atom("join")>;
/// scheduler -> node: (hello_atom) -> node_info
using hello_atom = caf::atom_constant<caf::atom("hello")>;
/// scheduler -> node: (run_atom, run_batch)
using run_atom = caf::atom_constant<caf::atom("run")>;
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

} // namespace gasched
