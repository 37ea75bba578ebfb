// Options of a scheduler. Every option states its default and what changing
// it costs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/timespan.hpp>

#include "gasched/task.hpp"

namespace gasched {

struct scheduler_options {
  // -- identity and cluster ------------------------------------------------------

  /// Name carried by every task_result and found by find_scheduler().
  /// Default: empty, an unnamed scheduler (results carry "scheduler-<actor id>").
  /// Two schedulers of one actor system cannot share a name.
  std::string name;

  /// Node actors to start with (from spawn_node or remote_actor). Nodes may
  /// also be added later (add_node_atom) or join a published scheduler.
  /// Default: none. When some are given and none answers within node_timeout,
  /// spawn_scheduler fails with errc::no_nodes_in_cluster.
  std::vector<caf::actor> nodes;

  /// Receives one task_result per task. The scheduler monitors it and stops
  /// with its exit reason when it exits, as gascheduler does with its client.
  /// Default: none; results then only reach awaiters (await_atom).
  caf::actor client;

  /// Remote actors that may do what only the scheduler's own process and
  /// its client may otherwise do: stop it, set max_workers and retry_timeout,
  /// add nodes, send it exit messages. Any other remote peer may submit tasks
  /// and read stats, and may await, cancel and list only its own tasks.
  /// Default: none.
  std::vector<caf::actor> admins;

  /// Whether `client` also gets the results of tasks that someone awaits.
  /// Default: true (the client sees every result).
  bool notify_client_of_awaited = true;

  /// Whether `client` also gets (changed_atom) when nodes join or leave or
  /// another client submits tasks: once, until it next asks for stats, so a
  /// client that shows the cluster (gasched-run --listen) needs no timer.
  /// Default: false (the client gets task_results only, as in gascheduler).
  bool notify_client_of_changes = false;

  // -- placement and retries -----------------------------------------------------

  /// Most tasks running on one node at once; a node that announces fewer
  /// slots gets that many. Default: 10. Higher keeps more work in flight;
  /// lower bounds the load a task batch puts on each machine. 0 pauses dispatch.
  uint32_t max_workers = 10;

  /// Tasks per slot that a node may hold beyond those it runs (Celery's
  /// prefetch multiplier); held tasks start the moment a slot frees, without
  /// a round trip to the scheduler. Default: gasched::adaptive_prefetch: the
  /// scheduler measures each function's mean run time (the nodes report it)
  /// and each node's round trip, and lets a node hold what its slots finish
  /// in one round trip, with room for chance: x + 2 sqrt(x), x = slots x rtt
  /// / run time, at least 1, at most 16 per slot. Short tasks then behave as
  /// with prefetch 16, tasks of a few milliseconds keep about 98 % of the
  /// slot time in tasks; tasks longer than 50 round trips are held by nobody
  /// (gascheduler's semantics), and short tasks are not held behind them. Each function
  /// starts unheld until its first results are in. A fixed number instead:
  /// 0 is gascheduler's semantics (a node holds only what it runs; measured
  /// here, identity tasks on 2 x 10 slots about 30,000 a second instead of
  /// over 110,000); n holds up to slots x (1 + n). In every mode, when a node
  /// delivers no result for much longer than its tasks take (a task turned
  /// out long) while another node has a free slot and nothing is pending,
  /// its held tasks move there: the node is told to drop them and a result
  /// it still sends is late. The cost of holding: a dying node takes its
  /// held tasks with it (they are requeued like its running ones), and
  /// stats.running counts held tasks too.
  uint32_t prefetch = adaptive_prefetch;

  /// Attempts per task on its node before the result is errc::max_retries;
  /// gasched::infinity retries forever; 0 fails at once (as gascheduler).
  /// Default: 10.
  uint32_t max_retries = 10;

  /// Pause between attempts on a node. Default: 1 s, gascheduler's.
  caf::timespan retry_timeout = std::chrono::seconds(1);

  /// Growth of the pause per attempt: pause n = retry_timeout * retry_backoff^(n-1),
  /// capped at retry_backoff_max. Default: 1.0, a fixed pause (gascheduler's);
  /// 2.0 gives Celery's exponential retry_backoff.
  double retry_backoff = 1.0;

  /// Cap of the growing pause. Default: 60 s.
  caf::timespan retry_backoff_max = std::chrono::seconds(60);

  /// Whether each pause is drawn uniformly from [0, pause] ("full jitter"),
  /// which spreads retries of many failing tasks. Default: false.
  bool retry_jitter = false;

  /// A task whose node died while running it this many times ends with
  /// errc::node_failures instead of going back to pending (quarantine of
  /// poison tasks, as Dask's allowed-failures). gasched::infinity turns it off.
  /// Default: 3.
  uint32_t max_node_failures = 3;

  // -- bounds --------------------------------------------------------------------

  /// Most tasks pending at once; `execute` beyond it answers errc::queue_full
  /// and accepts nothing. Tasks requeued from a dead node are never refused.
  /// Default: 0, unbounded (memory is the bound: about 40 bytes per pending
  /// task whose arguments are one or two scalars).
  uint64_t max_pending = 0;

  /// How long spawn_scheduler and add_node wait for a node's answer.
  /// Default: 5 s.
  caf::timespan node_timeout = std::chrono::seconds(5);

  // -- surviving its own death ---------------------------------------------------

  /// An SQLite file that records every task (accepted, dispatched, requeued,
  /// ended, with its result), so that a scheduler started again on the same
  /// file resumes every unfinished task and answers await(task_id) for
  /// tasks that finished before. With a journal, an execute is answered only
  /// once the task is on disk, and a result is sent only once its end is
  /// (one transaction for many tasks, written on the journal's own thread;
  /// what comes meanwhile goes into the next). Default: empty, no journal
  /// (gascheduler's behaviour: a scheduler that dies loses its tasks). The
  /// cost: a task is one row, written when accepted and updated when it
  /// ends; identity tasks on 2 cores ran at 45-60 % of their throughput
  /// without a journal (gasched-bench --only journal), one more thread;
  /// tasks of a millisecond or more hardly notice. A PostgreSQL URL
  /// (postgresql://USER:PASSWORD@HOST:PORT/DB, or postgres://) keeps the
  /// same journal in that database (Debian's libpq), shared by schedulers
  /// of which one is active and the others standbys (advertise, lease_time
  /// below): the scheduler that takes it over fences every earlier one,
  /// which can then never commit, answer or deliver again and exits with
  /// errc::standby, saying so in its log. Its cost: a commit is a few COPYs
  /// in one transaction (a task is a row when accepted and a row more when
  /// it ends), synchronous_commit on; 100,000 identity tasks at the default
  /// settings with the server on the same 2 cores ran at a median 27 %
  /// (25-43 %) of their throughput without a journal (SQLite in the same
  /// run: 46 %, 29-57 %; gasched-bench --only journal --repeat 5 on a loaded
  /// machine: 43,000 tasks/s against 64,000 and 143,000), and 1,000,000
  /// pending tasks resumed in 4-10 s (gasched-journal-bench --pg-url).
  std::string journal;

  /// After a restart on the journal (or a takeover), how long the tasks that
  /// were running wait for the nodes that run them to join again and claim
  /// them (a node that joined keeps running its tasks while it has no
  /// scheduler, node_options::keep_orphans); a claimed task runs on and its
  /// result counts, so it is not run twice. What no node claimed by then runs
  /// again, as does a task whose node came back without it. Default: 5 s,
  /// several times what a node takes to join again (node_options'
  /// join_retry_max, 1 s, and heartbeats of about a second).
  caf::timespan adopt_wait = std::chrono::seconds(5);

  /// How long finished results stay in the journal for await(task_id).
  /// Default: 24 h.
  std::chrono::seconds keep_results = std::chrono::hours(24);

  /// Whether each commit waits for the disk. The trade-off, as LevelDB's
  /// `sync` write option:
  ///
  /// - true (default): every group commit is fsync'd (SQLite
  ///   synchronous=FULL in WAL mode) before any execute or result it holds
  ///   is answered: an acknowledged task and a sent result survive the
  ///   scheduler's crash, an OS crash and a power loss.
  /// - false: commits reach the operating system, not the disk
  ///   (synchronous=NORMAL; only checkpoints sync). They survive the
  ///   scheduler's own crash (kill -9, abort), not an OS crash or a power
  ///   loss, which may take the last commits' tasks and results (those
  ///   acknowledged in the last moments before it); the file stays
  ///   consistent either way.
  ///
  /// Measured (2 cores, ext4 on a virtual disk, identity tasks): a commit
  /// of 200 to 10,000 tasks took 2-6 ms with fsync and 0.2-1.4 ms without,
  /// so an execute is answered that much sooner without; throughput did
  /// not differ beyond the machine's noise (100,000 tasks at prefetch 10:
  /// 132,399 and 133,024 tasks/s with fsync, 153,917 and 83,318 without),
  /// for a commit gathers whatever comes while the disk syncs.
  bool journal_sync = true;

  // -- standbys on a PostgreSQL journal -------------------------------------------
  //
  // Schedulers started on one PostgreSQL journal share it: the first holds
  // its lease and is active, the others are standbys. A standby answers
  // stats and ready, and its process's stop; anything else (execute, await,
  // a node's join, ...) gets errc::standby naming the active's `advertise`
  // address (nodes and clients given every address go there). When the
  // active dies its lease is free at once (the database ends its session);
  // when it hangs, its lease expires after lease_time: a standby then takes
  // over, resumes every unfinished task under a new generation, and the old
  // active can never commit again (it steps down, saying so, when it wakes).
  // See docs/cluster-ha.md.

  /// HOST:PORT where nodes and clients reach this scheduler, as standbys
  /// name it. Default: empty, "" in what standbys say (gasched-run --serve
  /// passes its --listen address).
  std::string advertise;

  /// How long the active's lease lasts unrenewed (it renews it every
  /// lease_time / 4). The trade-off: shorter, a hung active is replaced
  /// sooner; longer, a loaded machine or database that delays renewals is
  /// less often taken for hung (a false takeover: the active steps down
  /// and its running tasks run again). A dead active's lease does not wait
  /// for it. Default: 1 s.
  std::chrono::milliseconds lease_time = std::chrono::seconds(1);

  /// The cluster a PostgreSQL journal belongs to, recorded in it when it is
  /// made: a database whose journal names another cluster is refused
  /// (errc::journal_error naming both), so that a scheduler given the wrong
  /// database never resumes, or runs, another cluster's tasks. Default: "gasched".
  std::string journal_cluster = "gasched";

  // -- when nodes are lost -------------------------------------------------------
  //
  // A node handed by address (nodes, add_node_atom; from gasched::connect or
  // remote_actor) that is lost is reconnected at the same address, with a
  // pause growing from 100 ms to 1 s, until it answers again (Erlang's
  // nodeup). A node that joined rejoins by itself (node_options::join_host).
  // How fast a silent peer counts as lost is set per process: heartbeat_options.

  /// With tasks pending and no node up, log a warning this often (how many
  /// tasks, for how long). Default: 10 s; 0 turns it off. The scheduler
  /// itself never gives up waiting: a program that must end decides when
  /// (gasched-run's --no-nodes-timeout).
  caf::timespan no_nodes_warning = std::chrono::seconds(10);
};

} // namespace gasched
