#include "gasched_run/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <caf/all.hpp>
#include <fmt/format.h>

#include "gasched/gasched.hpp"
#include "gasched_run/actor_config.hpp"
#include "gasched_run/local_nodes.hpp"
#include "gasched_run/no_nodes_watch.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/supervisor.hpp"

namespace gasched::run {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Between the forwarder below and the main thread; never leave this process.
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using result_atom = caf::atom_constant<caf::atom("result")>;

// A client of a remote scheduler: one await request per task, each result
// (or error) handed to `collector` with the task's index. A request/response
// pair per task is what keeps two clients of one scheduler apart: a
// response goes to whoever asked.
caf::behavior forwarder(caf::event_based_actor* self, caf::actor sched,
                        caf::actor collector) {
  return {
    [=](submit_atom, uint64_t index, task& t) {
      self->request(sched, caf::infinite, await_atom::value, std::move(t))
        .then(
          [=](task_result& r) {
            self->send(collector, result_atom::value, index, std::move(r));
          },
          [=](caf::error& e) {
            self->send(collector, result_atom::value, index, std::move(e));
          });
    },
  };
}

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

std::string host_name() {
  char name[256] = "localhost";
  gethostname(name, sizeof(name) - 1);
  return name;
}

} // namespace

struct cluster::impl {
  const options& opts;
  progress& display;
  stop_signals& signals;
  local_nodes nodes;
  bool launched = false;
  supervisor supervision{nodes,
                         restart_policy{opts.max_restarts,
                                        std::chrono::seconds(opts.restart_window)},
                         display};
  std::vector<std::string> hand_over;  // restarted nodes the scheduler must be handed again
  int64_t started_unix_ms = unix_ms_now();

  std::optional<caf::actor_system_config> cfg;
  std::optional<caf::actor_system> sys;
  std::optional<caf::scoped_actor> self;
  caf::actor sched;      // ours or remote
  caf::actor forwarder;  // with --connect
  bool own_scheduler = false;
  std::string join_address;  // what nodes pass to --join, when listening
  bool stopped = false;

  // what the ticks watch
  std::set<std::string> nodes_seen;
  clock::time_point last_waiting_notice{};

  impl(const options& o, progress& d, stop_signals& s) : opts(o), display(d), signals(s) {
  }

  // -- setup ---------------------------------------------------------------------

  void launch_nodes(const std::string& data_dir) {
    if (launched || opts.connecting())
      return;
    launched = true;
    local_nodes::launch_options lo;
    lo.program = opts.node_program.empty() ? default_node_program() : opts.node_program;
    lo.slots = opts.slots;
    lo.log = opts.log;
    // Heartbeats must agree across a cluster, and TLS is all or nothing:
    // the nodes get ours.
    lo.extra = {"--heartbeat", std::to_string(opts.heartbeat_ms), "--heartbeat-timeout",
                std::to_string(opts.heartbeat_timeout_ms)};
    if (!opts.tls_dir.empty())
      lo.extra.insert(lo.extra.end(), {"--tls", absolute_path(opts.tls_dir)});
    // The only folder their file-touching functions may use.
    auto data = data_dir.empty() ? opts.data_dir : data_dir;
    if (!data.empty() && opts.nodes > 0) {
      std::filesystem::create_directories(data);
      lo.extra.insert(lo.extra.end(), {"--data-dir", absolute_path(data)});
    }
    if (!opts.data_dir.empty())
      lo.log_dir = opts.data_dir + "/node-logs";
    nodes.launch(lo, opts.nodes);
    if (opts.keep_data)
      nodes.keep_logs();
  }

  // The nodes' stderr, shown live only when asked (--log): a task's failure
  // is already in its result, and their lines would crowd the progress.
  void show_node_logs(bool all) {
    if (!opts.log_given || opts.quiet)
      return;
    for (auto& line : nodes.new_log_lines(all))
      display.raw(line);
  }

  void start_actor_system() {
    cfg.emplace();
    if (auto err = configure_actor_system(*cfg, opts))
      throw std::runtime_error(err.category() == error_category ? describe(err)
                                                                : "--caf#: " + cfg->render(err));
    sys.emplace(*cfg);
    self.emplace(*sys);
  }

  void start() {
    launch_nodes({});
    start_actor_system();
    if (opts.connecting()) {
      auto remote = gasched::connect(*sys, opts.connect_host, opts.connect_port);
      if (!remote)
        throw std::runtime_error(describe(remote.error())
                                 + " (is gasched-run --listen running there?)");
      sched = *remote;
      forwarder = sys->spawn(run::forwarder, sched, caf::actor{*self});
      (*self)->monitor(sched);
      display.notice("connected to the scheduler at " + opts.connect_host + ":"
                     + std::to_string(opts.connect_port));
      return;
    }
    nodes.ready();
    std::vector<caf::actor> handles;
    for (auto& n : nodes.all()) {
      auto handle = gasched::connect(*sys, "127.0.0.1", n.port);
      if (!handle)
        throw std::runtime_error("cannot reach " + n.name + ": " + describe(handle.error()));
      handles.push_back(*handle);
    }
    scheduler_options so;
    so.name = "gasched-run";
    so.nodes = std::move(handles);
    so.client = caf::actor{*self};
    so.max_workers = opts.slots;
    so.max_retries = opts.max_retries;
    so.retry_timeout = std::chrono::milliseconds(opts.retry_timeout_ms);
    so.prefetch = opts.prefetch;
    auto spawned = spawn_scheduler(*sys, so);
    if (!spawned)
      throw std::runtime_error("cannot start the scheduler: " + describe(spawned.error()));
    sched = *spawned;
    own_scheduler = true;
    (*self)->monitor(sched);
    if (!nodes.all().empty()) {
      std::string pids;
      for (auto& n : nodes.all())
        pids += fmt::format("{}{} (pid {})", pids.empty() ? "" : ", ", n.name, n.pid);
      display.notice(fmt::format("started {} gasched-node process{} with {} slot{} each: {}",
                                 nodes.size(), nodes.size() == 1 ? "" : "es", opts.slots,
                                 opts.slots == 1 ? "" : "s", pids));
    }
    if (opts.listening())
      publish_scheduler();
  }

  void publish_scheduler() {
    auto port = gasched::publish(*sys, sched, static_cast<uint16_t>(opts.listen_port),
                                 opts.listen_host);
    if (!port)
      throw std::runtime_error(describe(port.error()));
    auto shown = opts.listen_host == "0.0.0.0" ? host_name() : opts.listen_host;
    join_address = shown + ":" + std::to_string(*port);
    auto line = fmt::format("scheduler listening on {}:{}", opts.listen_host, *port);
    if (opts.serve) {
      // stdout carries nothing else when serving: scripts read the port here.
      std::printf("gasched-run %s\n", line.c_str());
      std::fflush(stdout);
    } else {
      display.error(line);  // shown even with --quiet: port 0 picks an unknown port
    }
    display.notice(fmt::format("nodes join with: gasched-node --join {0}; clients run: "
                               "gasched-run --connect {0} --tasks FILE",
                               join_address));
  }

  // -- the loop ------------------------------------------------------------------

  std::optional<stats> ask_stats() {
    std::optional<stats> result;
    (*self)->request(sched, 5s, stats_atom::value)
      .receive([&](stats& s) { result = std::move(s); }, [](caf::error&) {});
    return result;
  }

  // Join and leave notices; an idle server's waiting message.
  void watch_nodes(const stats& s) {
    std::set<std::string> now;
    for (auto& n : s.worker_nodes)
      now.insert(n.node);
    if (opts.listening()) {
      for (auto& name : now)
        if (nodes_seen.count(name) == 0 && nodes.find(name) == nullptr)
          display.notice("node " + name + " joined");
      for (auto& name : nodes_seen)
        if (now.count(name) == 0)
          display.notice("node " + name + " is gone");
      // With tasks waiting, no_nodes_watch speaks instead.
      if (now.empty() && s.pending + s.running == 0
          && clock::now() - last_waiting_notice > 30s) {
        last_waiting_notice = clock::now();
        display.notice("waiting for nodes to join: run gasched-node --join " + join_address
                       + " on each machine (Ctrl-C to give up)");
      }
    }
    nodes_seen = std::move(now);
  }

  // Restarts the local nodes that died; fatal when one died too often.
  void supervise(run_report& rep) {
    if (signals.requested())
      return;  // Ctrl-C on a terminal reaches the nodes too: not a death to mend
    for (auto& name : supervision.check())
      if (std::find(hand_over.begin(), hand_over.end(), name) == hand_over.end())
        hand_over.push_back(name);
    rep.restarts = supervision.restarts();
    if (!supervision.fatal().empty())
      rep.fatal = supervision.fatal();
    hand_over_restarted();
  }

  // A restarted node is a new actor: the scheduler must be handed it. Until
  // the scheduler has seen the old one go, it refuses the name
  // (errc::name_in_use): tried again at the next tick.
  void hand_over_restarted() {
    if (!own_scheduler)
      return;
    std::vector<std::string> left;
    for (auto& name : hand_over) {
      auto* n = nodes.find(name);
      if (!n || !n->process.running() || n->death)
        continue;  // died again: supervision has it
      bool added = false;
      if (auto handle = gasched::connect(*sys, "127.0.0.1", n->port))
        (*self)
          ->request(sched, 5s, add_node_atom::value, *handle)
          .receive([&](caf::ok_atom) { added = true; }, [](caf::error&) {});
      if (!added)
        left.push_back(name);
    }
    hand_over = std::move(left);
  }

  // Where a node can join, for the waiting messages; empty for local nodes only.
  std::string join_hint() const {
    if (opts.connecting())
      return opts.connect_host + ":" + std::to_string(opts.connect_port);
    return join_address;
  }

  // The progress loop's look at the cluster, every tick.
  std::optional<stats> look_around(run_report& rep) {
    auto s = ask_stats();
    if (s)
      watch_nodes(*s);
    supervise(rep);
    show_node_logs(false);
    return s;
  }

  void kill_one(run_report& rep, uint64_t done) {
    // The busiest local node: its running tasks must be requeued.
    auto s = ask_stats();
    local_nodes::node* victim = nullptr;
    uint32_t victim_running = 0;
    if (s)
      for (auto& load : s->worker_nodes)
        if (auto* n = nodes.find(load.node); n && n->process.running()
                                             && (!victim || load.running > victim_running)) {
          victim = n;
          victim_running = load.running;
        }
    if (!victim)
      for (auto& n : nodes.all())
        if (n.process.running()) {
          victim = &n;
          break;
        }
    if (!victim)
      return;
    nodes.kill(*victim);
    rep.killed_node = victim->name;
    rep.killed_after = done;
    rep.killed_running = victim_running;
    rep.killed_unix_ms = unix_ms_now();
    display.notice(fmt::format("killed {} (kill -9, pid {}) after {} results, with {} task{} "
                               "running on it: the scheduler requeues {}",
                               victim->name, victim->pid, done, victim_running,
                               victim_running == 1 ? "" : "s",
                               victim_running == 1 ? "it" : "them"));
  }

  progress_counts counts(const run_report& rep, uint64_t done, const std::optional<stats>& s) {
    progress_counts c;
    c.total = rep.total;
    c.done = done;
    c.failed = rep.failed;
    if (s) {
      c.nodes = s->worker_node_count;
      if (own_scheduler) {
        c.running = s->running;
        c.pending = s->pending;
      } else {
        // A remote scheduler's counts include other clients' tasks: show
        // ours, taking the running ones from its count.
        auto outstanding = rep.total - done;
        c.running = std::min<uint64_t>(s->running, outstanding);
        c.pending = outstanding - c.running;
      }
    }
    return c;
  }

  // One run's bookkeeping, shared by the loop's pieces.
  struct run_state {
    run_report rep;
    const result_handler* on_result = nullptr;
    std::unordered_map<task_id, size_t> index_of;
    std::vector<task> sent;  // with --connect: results made from an error carry no task
    uint64_t done = 0;
    bool kill_due = false;
  };

  void submit(run_state& st, std::vector<task> tasks) {
    if (own_scheduler) {
      (*self)
        ->request(sched, 30s, execute_atom::value, std::move(tasks))
        .receive(
          [&](std::vector<task_id>& ids) {
            for (size_t i = 0; i < ids.size(); ++i)
              st.index_of.emplace(ids[i], i);
          },
          [&](caf::error& e) {
            st.rep.fatal = "the scheduler refused the tasks: " + describe(e);
          });
    } else {
      for (size_t i = 0; i < tasks.size(); ++i)
        caf::anon_send(forwarder, submit_atom::value, uint64_t{i}, tasks[i]);
      st.sent = std::move(tasks);
    }
    if (opts.kill_node_after >= st.rep.total && st.rep.total > 0)
      display.notice(fmt::format("--kill-node-after {}: the run has {} tasks, so no node "
                                 "will be killed",
                                 opts.kill_node_after, st.rep.total));
  }

  void record(run_state& st, size_t index, const task_result& r) {
    ++st.done;
    st.rep.count(r);
    (*st.on_result)(index, r);
    // Killed from the loop, not here: kill_one asks for stats, a request
    // that must not nest inside a receive.
    st.kill_due = opts.kill_node_after > 0 && st.rep.killed_node.empty()
                  && st.done >= opts.kill_node_after && st.done < st.rep.total;
  }

  void receive_for(run_state& st, std::chrono::milliseconds wait) {
    (*self)->receive(
      [&](task_result& r) {
        auto it = st.index_of.find(r.id);
        if (it == st.index_of.end())
          return;  // a remote client's task (we are listening)
        auto index = it->second;
        st.index_of.erase(it);
        record(st, index, r);
      },
      [&](result_atom, uint64_t index, task_result& r) { record(st, index, r); },
      [&](result_atom, uint64_t index, caf::error& e) {
        // The scheduler did not run it (queue full, stopped, ...): the
        // same shape as a failed result, so callers see one kind of thing.
        task_result r;
        r.error = std::move(e);
        if (index < st.sent.size())
          r.task = st.sent[index];
        record(st, index, r);
      },
      [&](caf::down_msg& msg) {
        if (msg.source == sched.address())
          st.rep.fatal = "lost the scheduler (" + sys->render(msg.reason) + ")";
      },
      caf::after(std::max(wait, std::chrono::milliseconds(1))) >> [] {});
  }

  void tick(run_state& st, no_nodes_watch& watch) {
    auto s = look_around(st.rep);
    if (s && st.rep.fatal.empty()) {
      auto v = watch.look(clock::now(), s->worker_node_count, st.rep.total - st.done,
                          join_hint());
      if (!v.notice.empty())
        display.error(v.notice);  // even with --quiet: a run that waits must say why
      st.rep.fatal = v.fatal;
    }
    display.update(counts(st.rep, st.done, s));
  }

  // The scheduler's counts of nodes and requeues, when the scheduler is ours.
  void take_counts(run_report& rep, const stats& s) {
    rep.requeued = s.requeued;
    rep.requeued_known = true;
    rep.late_results = s.late_results;
    rep.node_joins = s.node_joins;
    rep.node_losses = s.node_losses;
    rep.node_rejoins = s.node_rejoins;
    rep.node_events = s.node_events;
  }

  run_report run(std::vector<task> tasks, const result_handler& on_result) {
    run_state st;
    st.rep.total = tasks.size();
    st.rep.started_unix_ms = started_unix_ms;
    st.on_result = &on_result;
    auto started = clock::now();
    display.start();
    submit(st, std::move(tasks));
    no_nodes_watch watch{std::chrono::seconds(opts.no_nodes_timeout)};
    // Ticks: a bar redraw every 100 ms is smooth and costs one stats request.
    auto tick_every = display.is_bar() ? 100ms : 250ms;
    auto next_tick = clock::now();
    while (st.done < st.rep.total && st.rep.fatal.empty()) {
      if (signals.requested()) {
        st.rep.interrupted_by = signals.signal();
        break;
      }
      if (st.kill_due) {
        st.kill_due = false;
        kill_one(st.rep, st.done);
        supervise(st.rep);  // at once: the restart belongs to the demonstration
      }
      auto now = clock::now();
      if (now >= next_tick) {
        tick(st, watch);
        next_tick = now + tick_every;
        continue;
      }
      receive_for(st, std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now));
    }
    st.rep.seconds = std::chrono::duration<double>(clock::now() - started).count();
    // Only ours is asked: a remote one's counts are not ours, and one that
    // went away would hold the run up for the request's timeout.
    if (auto s = own_scheduler ? ask_stats() : std::nullopt) {
      take_counts(st.rep, *s);
      display.update(counts(st.rep, st.done, s));
    }
    st.rep.restarts = supervision.restarts();
    display.finish();
    return std::move(st.rep);
  }

  void serve_tick(run_report& rep, no_nodes_watch& watch) {
    auto s = look_around(rep);
    if (!s)
      return;
    rep.total = s->succeeded + s->failed + s->pending + s->running;
    progress_counts c;
    c.done = s->succeeded + s->failed;
    c.failed = s->failed;
    c.running = s->running;
    c.pending = s->pending;
    c.nodes = s->worker_node_count;
    display.update(c);
    take_counts(rep, *s);
    // A server waits for nodes as long as it serves, but says so.
    auto v = watch.look(clock::now(), s->worker_node_count, s->pending + s->running,
                        join_hint());
    if (!v.notice.empty())
      display.error(v.notice);
  }

  // What the scheduler still holds as serving ends: every pending or
  // running task is unfinished (its client learns that it was cancelled).
  void count_left(run_report& rep) {
    auto s = rep.fatal.empty() ? ask_stats() : std::nullopt;
    if (!s)
      return;
    take_counts(rep, *s);
    rep.total = rep.succeeded + rep.failed + s->pending + s->running;
  }

  run_report serve() {
    run_report rep;
    rep.started_unix_ms = started_unix_ms;
    auto started = clock::now();
    display.start();
    no_nodes_watch watch{0s};
    auto next_tick = clock::now();
    while (!signals.requested() && rep.fatal.empty()) {
      auto now = clock::now();
      if (now >= next_tick) {
        serve_tick(rep, watch);
        next_tick = now + (display.is_bar() ? 100ms : 250ms);
        continue;
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now);
      (*self)->receive(
        [&](task_result& r) { rep.count(r); },
        [&](caf::down_msg& msg) {
          if (msg.source == sched.address())
            rep.fatal = "the scheduler stopped (" + sys->render(msg.reason) + ")";
        },
        caf::after(std::max(wait, std::chrono::milliseconds(1))) >> [] {});
    }
    rep.interrupted_by = signals.signal();
    rep.seconds = std::chrono::duration<double>(clock::now() - started).count();
    rep.restarts = supervision.restarts();
    count_left(rep);
    display.finish();
    return rep;
  }

  // -- the end -------------------------------------------------------------------

  void shutdown() {
    if (stopped)
      return;
    stopped = true;
    if (self && sched && own_scheduler) {
      // stop answers an error when tasks were left (an interrupted run):
      // that is known already, so either answer will do.
      (*self)->request(sched, 5s, stop_atom::value).receive([](caf::ok_atom) {}, [](caf::error&) {});
    }
    if (self && forwarder) {
      // Waited for: the remote side knows the forwarder, so CAF's network
      // broker watches it and must see it go while it still runs. (With
      // the broker already stopping, CAF 0.17 leaks the notice and a cycle
      // of its own objects.)
      (*self)->send_exit(forwarder, caf::exit_reason::user_shutdown);
      (*self)->wait_for(forwarder);
      forwarder = nullptr;
    }
    auto stopped_nodes = nodes.stop_all();
    show_node_logs(true);
    if (stopped_nodes > 0 && signals.requested())
      display.notice(fmt::format("stopped {} node process{}", stopped_nodes,
                                 stopped_nodes == 1 ? "" : "es"));
  }
};

cluster::cluster(const options& opts, progress& display, stop_signals& signals)
  : impl_(std::make_unique<impl>(opts, display, signals)) {
}

cluster::~cluster() {
  try {
    impl_->shutdown();
  } catch (...) {
    // a destructor must not throw; the processes die with us anyway
  }
}

void cluster::launch_nodes(const std::string& data_dir) {
  impl_->launch_nodes(data_dir);
}

void cluster::start() {
  impl_->start();
}

run_report cluster::run(std::vector<task> tasks, const result_handler& on_result) {
  return impl_->run(std::move(tasks), on_result);
}

run_report cluster::serve() {
  return impl_->serve();
}

void cluster::shutdown() {
  impl_->shutdown();
}

std::string cluster::description(const run_report& rep) const {
  auto& o = impl_->opts;
  if (o.connecting())
    return "the scheduler at " + o.connect_host + ":" + std::to_string(o.connect_port);
  size_t n = 0;
  for (auto& [node, tally] : rep.by_node)
    n += node.empty() ? 0 : 1;
  return fmt::format("{} node{}", n, n == 1 ? "" : "s");
}

} // namespace gasched::run
