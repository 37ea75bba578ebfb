// The cluster's setup and teardown on the main thread: local nodes, the
// actor system, the scheduler (spawned and published, or connected to) and
// the dashboard; then each call hands the cluster actor (cluster_actor.cpp)
// a job and waits for its answer.
#include "gasched_run/cluster.hpp"

#include <unistd.h>

#include <filesystem>
#include <future>
#include <stdexcept>

#include <fmt/format.h>

#include "gasched/gasched.hpp"
#include "gasched_run/actor_config.hpp"
#include "gasched_run/cluster_impl.hpp"

namespace gasched::run {

namespace {

using namespace std::chrono_literals;

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// All tasks at once (the default job): keys are their positions.
class vector_feed : public task_feed {
public:
  explicit vector_feed(std::vector<task> tasks) : tasks_(std::move(tasks)) {
  }

  void start(std::function<void()>) override {
  }

  void take(std::vector<std::pair<uint64_t, task>>& out, size_t max) override {
    for (size_t n = 0; next_ < tasks_.size() && n < max; ++n, ++next_)
      out.emplace_back(next_, std::move(tasks_[next_]));
  }

  bool ended() override {
    return next_ == tasks_.size();
  }

private:
  std::vector<task> tasks_;
  size_t next_ = 0;
};

} // namespace

void cluster::impl::launch_nodes(const std::string& data_dir) {
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

void cluster::impl::show_node_logs(bool all) {
  if (!opts.log_given || opts.quiet)
    return;
  for (auto& line : nodes.new_log_lines(all))
    display.raw(line);
}

void cluster::impl::start_actor_system() {
  cfg.emplace();
  if (auto err = configure_actor_system(*cfg, opts))
    throw std::runtime_error(err.category() == error_category ? describe(err)
                                                              : "--caf#: " + cfg->render(err));
  sys.emplace(*cfg);
  actor = spawn_cluster_actor(*sys, ctx);
  auto exited = std::make_shared<std::promise<void>>();
  actor_exited = exited->get_future();
  actor->attach_functor([exited](const caf::error&) { exited->set_value(); });
  woken = signals.on_signal([this, me = actor] {
    if (signals.requested())
      caf::anon_send(me, signal_atom::value);
    else
      caf::anon_send(me, child_atom::value);
  });
}

void cluster::impl::start() {
  launch_nodes({});
  start_actor_system();
  if (opts.connecting()) {
    address found{opts.connect_host, opts.connect_port};
    caf::expected<scheduler_actor> remote{caf::error{}};
    if (opts.connect_list.empty()) {
      remote = gasched::connect_scheduler(*sys, opts.connect_host, opts.connect_port);
    } else {
      std::vector<address> list;
      for (auto& text : opts.connect_list)
        list.push_back(*parse_address(text));
      // Ctrl-C ends the search at once, not after its minute.
      auto cancel = std::make_shared<std::atomic<bool>>(signals.requested());
      auto woken = signals.on_signal([this, cancel] {
        if (signals.requested())
          cancel->store(true);
      });
      active_search_options search;
      search.cancel = cancel;
      remote = gasched::connect_scheduler(*sys, list, search, &found);
    }
    if (!remote)
      throw std::runtime_error(describe(remote.error()));
    ctx.sched = *remote;
    // Where nodes join, for the messages that say none is up.
    ctx.join_address = to_string(found);
    caf::anon_send(actor, watch_atom::value);
    display.notice("connected to the scheduler at " + to_string(found));
    serve_dashboard();
    return;
  }
  connect_nodes_and_spawn();
  if (opts.listening())
    publish_scheduler();
  serve_dashboard();
}

void cluster::impl::connect_nodes_and_spawn() {
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
  so.client = caf::actor_cast<caf::actor>(actor);
  // Publishing, others change it: the scheduler says so (changed_atom).
  so.notify_client_of_changes = opts.listening();
  // Serving, the scheduler's stats count what it served (cluster_serve.cpp).
  so.notify_client_of_awaited = !opts.serve;
  so.max_workers = opts.slots;
  so.max_retries = opts.max_retries;
  so.retry_timeout = std::chrono::milliseconds(opts.retry_timeout_ms);
  so.prefetch = opts.prefetch;
  so.journal = opts.journal;
  so.advertise = !opts.advertise.empty() ? opts.advertise
                 : opts.listening() ? opts.listen_host + ":" + std::to_string(opts.listen_port)
                                    : "";
  so.lease_time = std::chrono::milliseconds(opts.lease_time_ms);
  if (!opts.journal_cluster.empty())
    so.journal_cluster = opts.journal_cluster;
  auto spawned = spawn_scheduler(*sys, so);
  if (!spawned)
    throw std::runtime_error("cannot start the scheduler: " + describe(spawned.error()));
  ctx.sched = *spawned;
  ctx.own_scheduler = true;
  caf::anon_send(actor, watch_atom::value);
  if (!nodes.all().empty()) {
    std::string pids;
    for (auto& n : nodes.all())
      pids += fmt::format("{}{} (pid {})", pids.empty() ? "" : ", ", n.name, n.pid);
    display.notice(fmt::format("started {} gasched-node process{} with {} slot{} each: {}",
                               nodes.size(), nodes.size() == 1 ? "" : "es", opts.slots,
                               opts.slots == 1 ? "" : "s", pids));
  }
}

void cluster::impl::publish_scheduler() {
  auto port = gasched::publish(*sys, ctx.sched, static_cast<uint16_t>(opts.listen_port),
                               opts.listen_host);
  if (!port)
    throw std::runtime_error(describe(port.error()));
  auto shown = opts.listen_host == "0.0.0.0" ? host_name() : opts.listen_host;
  ctx.join_address = shown + ":" + std::to_string(*port);
  auto line = fmt::format("scheduler listening on {}:{}", opts.listen_host, *port);
  if (opts.serve) {
    // stdout carries nothing else when serving: scripts read the port here.
    std::printf("gasched-run %s\n", line.c_str());
    std::fflush(stdout);
    display.error(role_line());  // even with --quiet: which scheduler this is matters
  } else {
    display.error(line);  // shown even with --quiet: port 0 picks an unknown port
  }
  display.notice(fmt::format("nodes join with: gasched-node --join {0}; clients run: "
                             "gasched-run --connect {0} --tasks FILE",
                             ctx.join_address));
}

// A served scheduler's role (alone, active or standby) and what its journal
// gave it, as its stats say.
std::string cluster::impl::role_line() {
  caf::scoped_actor self{*sys};
  std::optional<stats> s;
  self->request(ctx.sched, std::chrono::seconds(5), stats_atom::value)
    .receive([&](stats& x) { s = std::move(x); }, [](caf::error&) {});
  if (!s)
    return "role: unknown (the scheduler did not answer)";
  auto line = "role: " + s->role;
  if (s->generation > 0)
    line += fmt::format(", generation {}", s->generation);
  if (s->role == "standby" && !s->active.empty())
    line += ", active at " + s->active;
  if (opts.journal.empty())
    return line + "; no journal: tasks unfinished when it stops are lost";
  // A PostgreSQL URL without its password.
  auto journal = opts.journal;
  if (auto at = journal.find('@'), scheme = journal.find("://");
      at != std::string::npos && scheme != std::string::npos) {
    auto colon = journal.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at)
      journal.erase(colon, at - colon);
  }
  if (s->role == "standby")
    return line + fmt::format("; journal {}: it takes over when the active stops renewing "
                              "its lease", journal);
  return line + fmt::format("; journal {}: {} unfinished task{} resumed", journal,
                            s->pending + s->running, s->pending + s->running == 1 ? "" : "s");
}

// --http: the dashboard of the scheduler this run uses, until shutdown().
void cluster::impl::serve_dashboard() {
  if (!opts.serving_http())
    return;
  http_options ho;
  ho.host = opts.http_host;
  ho.port = static_cast<uint16_t>(opts.http_port);
  ho.allowed_hosts = opts.http_names;
  auto served = serve_http(*sys, ctx.sched, ho);
  if (!served)
    throw std::runtime_error(describe(served.error()));
  {
    std::lock_guard<std::mutex> guard{http_mx};
    http.emplace(std::move(*served));
  }
  // --connect: the dashboard shows the scheduler the client follows.
  ctx.followed = [this](const scheduler_actor& s) {
    std::lock_guard<std::mutex> guard{http_mx};
    if (http)
      http->follow(s);
  };
  display.error("dashboard at " + http->url());  // even with --quiet: port 0 picks one
}

// -- jobs for the actor ------------------------------------------------------------

void cluster::impl::check_actor() const {
  if (!actor || actor_exited.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
    throw std::runtime_error("gasched-run's cluster is not running");
}

std::string cluster::impl::note(const std::string& key, std::optional<std::string> value) {
  check_actor();
  note_job job;
  job.key = key;
  job.value = std::move(value);
  auto answer = job.answer.get_future();
  caf::anon_send(actor, note_atom::value, job_ref<note_job>{&job});
  return answer.get();
}

// -- the end ---------------------------------------------------------------------

void cluster::impl::shutdown() {
  if (stopped)
    return;
  stopped = true;
  {
    std::lock_guard<std::mutex> guard{http_mx};
    if (http)
      http->stop();  // before the scheduler stops: a request would wait for its timeout
    http.reset();
  }
  if (actor) {
    // The actor stops our scheduler (which commits its journal) and the
    // local nodes, then exits; waited for: the remote side may know it, so
    // CAF's network broker watches it and must see it go while it still runs.
    caf::anon_send(actor, shutdown_atom::value);
    actor_exited.wait();
    actor = nullptr;
  }
  auto stopped_nodes = ctx.stopped_nodes + nodes.stop_all();  // if the actor could not
  woken = {};  // its handle on our actor must not outlive the actor system
  show_node_logs(true);
  if (stopped_nodes > 0 && signals.requested())
    display.notice(fmt::format("stopped {} node process{}", stopped_nodes,
                               stopped_nodes == 1 ? "" : "es"));
}

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
  vector_feed feed{std::move(tasks)};
  return run(feed, on_result);
}

run_report cluster::run(task_feed& feed, const result_handler& on_result,
                        std::vector<std::pair<uint64_t, task_id>> resumed,
                        std::optional<task_id> known_ids) {
  impl_->check_actor();
  run_job job;
  job.feed = &feed;
  job.on_result = &on_result;
  job.resumed = std::move(resumed);
  job.known_ids = known_ids;
  auto report = job.report.get_future();
  caf::anon_send(impl_->actor, run_atom::value, job_ref<run_job>{&job});
  return report.get();
}

std::string cluster::read_note(const std::string& key) {
  try {
    return impl_->note(key, std::nullopt);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("cannot read gasched-run's record in " + impl_->opts.journal
                             + ": " + e.what());
  }
}

void cluster::write_note(const std::string& key, const std::string& value) {
  try {
    impl_->note(key, value);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("cannot record the run in " + impl_->opts.journal + ": "
                             + e.what());
  }
}

run_report cluster::serve() {
  impl_->check_actor();
  serve_job job;
  auto report = job.report.get_future();
  caf::anon_send(impl_->actor, serve_atom::value, job_ref<serve_job>{&job});
  return report.get();
}

void cluster::shutdown() {
  impl_->shutdown();
}

std::string cluster::description(const run_report& rep) const {
  auto& o = impl_->opts;
  if (o.connecting())
    return "the scheduler at " + impl_->ctx.join_address;  // the last one followed
  size_t n = 0;
  for (auto& [node, tally] : rep.by_node)
    n += node.empty() ? 0 : 1;
  return fmt::format("{} node{}", n, n == 1 ? "" : "s");
}

} // namespace gasched::run
