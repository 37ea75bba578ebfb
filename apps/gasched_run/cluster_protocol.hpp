// What reaches gasched-run's cluster actor (cluster_actor.cpp), as a typed
// interface: whoever sends to it through this handle is checked by the
// compiler. The main thread hands it jobs (a run, a serve, a journal note,
// the shutdown) and waits on each job's promise; the scheduler sends it
// results and change notices (as its client); the signal watcher, the task
// reader and the actor's own timers wake it. Replies to its own requests
// (task ids, results awaited, stats, notes) come to the request's handler,
// not through this interface.
//
// Everything here stays in this process: the jobs are passed by reference
// (job_ref), and their owner waits until they are answered.
#pragma once

#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "gasched/atoms.hpp"
#include "gasched/scheduler_actor.hpp"
#include "gasched/task.hpp"
#include "gasched_run/cluster.hpp"

namespace gasched::run {

/// A run (cluster::run): its tasks come from `feed`, each result goes to
/// `on_result`; the actor answers with the run's report.
struct run_job {
  task_feed* feed = nullptr;
  const result_handler* on_result = nullptr;
  std::vector<std::pair<uint64_t, task_id>> resumed;  ///< an earlier run's (key, id)
  std::optional<task_id> known_ids;  ///< that run's last checkpointed id
  std::promise<run_report> report;
};

/// Serving remote clients and joining nodes until a signal (cluster::serve).
struct serve_job {
  std::promise<run_report> report;
};

/// --journal: reads (no `value`) or writes a note in the scheduler's journal.
/// The answer is the value read ("" after a write), or an exception whose
/// message says why the scheduler refused.
struct note_job {
  std::string key;
  std::optional<std::string> value;
  std::promise<std::string> answer;
};

/// --connect: what a search for the active scheduler found (cluster_follow.cpp),
/// for search number `search`: the scheduler and its address, or why none.
struct found_scheduler {
  uint64_t search = 0;
  scheduler_actor sched;
  std::string where;
  std::string error;
};

/// A job, owned by the main thread while it waits for its answer.
template <class Job>
struct job_ref {
  Job* job = nullptr;
};

using run_atom = caf::atom_constant<caf::atom("run")>;
using serve_atom = caf::atom_constant<caf::atom("serve")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using feed_atom = caf::atom_constant<caf::atom("feed")>;
using signal_atom = caf::atom_constant<caf::atom("signal")>;
using child_atom = caf::atom_constant<caf::atom("child")>;
using look_atom = caf::atom_constant<caf::atom("look")>;
using quiet_atom = caf::atom_constant<caf::atom("quiet")>;
using follow_atom = caf::atom_constant<caf::atom("follow")>;

using cluster_actor = caf::typed_actor<
  // -- from the main thread (cluster.cpp) -------------------------------------------
  caf::reacts_to<watch_atom>,  // the scheduler exists now: monitor it
  caf::reacts_to<run_atom, job_ref<run_job>>,
  caf::reacts_to<serve_atom, job_ref<serve_job>>,
  caf::reacts_to<note_atom, job_ref<note_job>>,
  caf::reacts_to<shutdown_atom>,  // stop our scheduler, then exit
  // -- from the scheduler, to its client --------------------------------------------
  caf::reacts_to<task_result>,
  caf::reacts_to<results_atom, std::vector<task_result>>,  // --connect: our tasks' results
  caf::reacts_to<changed_atom>,  // nodes or other clients changed the cluster
  // -- wake-ups from other threads --------------------------------------------------
  caf::reacts_to<feed_atom>,    // the feed has more tasks, or ended
  caf::reacts_to<signal_atom>,  // SIGINT, SIGTERM or SIGHUP asked to stop
  caf::reacts_to<child_atom>,   // SIGCHLD: a local node may have died
  caf::reacts_to<follow_atom, found_scheduler>,  // --connect: the scheduler after a loss
  // -- its own timers (the number: which run or look it was set for) ------------------
  caf::reacts_to<look_atom, uint64_t>,
  caf::reacts_to<quiet_atom, uint64_t>>;

} // namespace gasched::run

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gasched::run::job_ref<gasched::run::run_job>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gasched::run::job_ref<gasched::run::serve_job>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gasched::run::job_ref<gasched::run::note_job>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gasched::run::found_scheduler)
