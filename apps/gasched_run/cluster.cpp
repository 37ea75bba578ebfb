#include "gasched_run/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <caf/all.hpp>
#include <fmt/format.h>

#include "gasched/gasched.hpp"
#include "gasched_run/local_nodes.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/stop_signals.hpp"

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

  void launch_nodes() {
    if (launched || opts.connecting())
      return;
    launched = true;
    auto program = opts.node_program.empty() ? default_node_program() : opts.node_program;
    // Nodes log to our stderr only when asked: a task's failure is already
    // in its result, and their lines would tear the progress bar.
    nodes.launch(program, opts.nodes, opts.slots, opts.log, opts.quiet || !opts.log_given);
  }

  void start_actor_system() {
    cfg.emplace();
    gasched::init(*cfg);
    sys.emplace(*cfg);
    self.emplace(*sys);
  }

  void start() {
    launch_nodes();
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

  // Join and leave notices, and the waiting message when no node is up.
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
      if (now.empty() && clock::now() - last_waiting_notice > 30s) {
        last_waiting_notice = clock::now();
        display.notice("waiting for nodes to join: run gasched-node --join " + join_address
                       + " on each machine (Ctrl-C to give up)");
      }
    }
    nodes_seen = std::move(now);
  }

  // Local nodes that died without our doing; fatal when none is left and
  // none can join.
  void watch_local_nodes(run_report& rep, const std::optional<stats>& s) {
    for (auto* n : nodes.reap_exited()) {
      if (signals.requested())
        return;  // Ctrl-C on a terminal reaches the nodes too: not news
      rep.lost_nodes.push_back(n->name);
      display.notice("node " + n->name + " (pid " + std::to_string(n->pid) + ") "
                     + n->exit_text + "; its tasks go back to the queue");
    }
    if (own_scheduler && !opts.listening() && nodes.size() > 0 && nodes.alive() == 0
        && s && s->worker_node_count == 0)
      rep.fatal = "every node process is gone; nothing can run the "
                  + std::to_string(s->pending + s->running) + " unfinished tasks";
  }

  void kill_one(run_report& rep, uint64_t done) {
    // The busiest local node: its running tasks must be requeued.
    auto s = ask_stats();
    local_nodes::node* victim = nullptr;
    uint32_t victim_running = 0;
    if (s)
      for (auto& load : s->worker_nodes)
        if (auto* n = nodes.find(load.node); n && !n->killed && !n->exited
                                             && (!victim || load.running > victim_running)) {
          victim = n;
          victim_running = load.running;
        }
    if (!victim)
      for (auto& n : nodes.all())
        if (!n.killed && !n.exited) {
          victim = &n;
          break;
        }
    if (!victim)
      return;
    nodes.kill(*victim);
    rep.killed_node = victim->name;
    rep.killed_after = done;
    rep.killed_running = victim_running;
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

  run_report run(std::vector<task> tasks, const result_handler& on_result) {
    run_report rep;
    rep.total = tasks.size();
    auto started = clock::now();
    display.start();
    std::unordered_map<task_id, size_t> index_of;
    // Kept for results made from an error: they carry no task of their own.
    std::vector<task> sent;
    uint64_t requeued_before = 0;
    if (own_scheduler) {
      if (auto s = ask_stats())
        requeued_before = s->requeued;
      (*self)
        ->request(sched, 30s, execute_atom::value, std::move(tasks))
        .receive(
          [&](std::vector<task_id>& ids) {
            for (size_t i = 0; i < ids.size(); ++i)
              index_of.emplace(ids[i], i);
          },
          [&](caf::error& e) { rep.fatal = "the scheduler refused the tasks: " + describe(e); });
    } else {
      for (size_t i = 0; i < tasks.size(); ++i)
        caf::anon_send(forwarder, submit_atom::value, uint64_t{i}, tasks[i]);
      sent = std::move(tasks);
    }
    if (opts.kill_node_after >= rep.total && rep.total > 0)
      display.notice(fmt::format("--kill-node-after {}: the run has {} tasks, so no node "
                                 "will be killed",
                                 opts.kill_node_after, rep.total));
    uint64_t done = 0;
    bool kill_due = false;
    auto record = [&](size_t index, const task_result& r) {
      ++done;
      rep.count(r);
      on_result(index, r);
      // Killed from the loop, not here: kill_one asks for stats, a request
      // that must not nest inside this receive.
      kill_due = opts.kill_node_after > 0 && rep.killed_node.empty()
                 && done >= opts.kill_node_after && done < rep.total;
    };
    // Ticks: a bar redraw every 100 ms is smooth and costs one stats request.
    auto tick_every = display.is_bar() ? 100ms : 250ms;
    auto next_tick = clock::now();
    std::optional<stats> last;
    while (done < rep.total && rep.fatal.empty()) {
      if (signals.requested()) {
        rep.interrupted_by = signals.signal();
        break;
      }
      if (kill_due) {
        kill_due = false;
        kill_one(rep, done);
      }
      auto now = clock::now();
      if (now >= next_tick) {
        last = ask_stats();
        if (last)
          watch_nodes(*last);
        watch_local_nodes(rep, last);
        display.update(counts(rep, done, last));
        next_tick = now + tick_every;
        continue;
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now);
      (*self)->receive(
        [&](task_result& r) {
          auto it = index_of.find(r.id);
          if (it == index_of.end())
            return;  // a remote client's task (we are listening)
          auto index = it->second;
          index_of.erase(it);
          record(index, r);
        },
        [&](result_atom, uint64_t index, task_result& r) { record(index, r); },
        [&](result_atom, uint64_t index, caf::error& e) {
          // The scheduler did not run it (queue full, stopped, ...): the
          // same shape as a failed result, so callers see one kind of thing.
          task_result r;
          r.error = std::move(e);
          if (index < sent.size())
            r.task = sent[index];
          record(index, r);
        },
        [&](caf::down_msg& msg) {
          if (msg.source == sched.address())
            rep.fatal = "lost the scheduler (" + sys->render(msg.reason) + ")";
        },
        caf::after(std::max(wait, std::chrono::milliseconds(1))) >> [] {});
    }
    rep.seconds = std::chrono::duration<double>(clock::now() - started).count();
    if (auto s = ask_stats(); s && own_scheduler) {
      rep.requeued = s->requeued - requeued_before;
      rep.requeued_known = true;
      display.update(counts(rep, done, s));
    }
    display.finish();
    return rep;
  }

  run_report serve() {
    run_report rep;
    auto started = clock::now();
    display.start();
    auto next_tick = clock::now();
    while (!signals.requested()) {
      auto now = clock::now();
      if (now >= next_tick) {
        auto s = ask_stats();
        if (s) {
          watch_nodes(*s);
          rep.total = s->succeeded + s->failed + s->pending + s->running;
          progress_counts c;
          c.done = s->succeeded + s->failed;
          c.failed = s->failed;
          c.running = s->running;
          c.pending = s->pending;
          c.nodes = s->worker_node_count;
          display.update(c);
          rep.requeued = s->requeued;
          rep.requeued_known = true;
        }
        watch_local_nodes(rep, s);
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
      if (!rep.fatal.empty())
        break;
    }
    rep.interrupted_by = signals.signal();
    rep.seconds = std::chrono::duration<double>(clock::now() - started).count();
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

void cluster::launch_nodes() {
  impl_->launch_nodes();
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
