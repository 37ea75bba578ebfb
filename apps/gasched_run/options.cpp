#include "gasched_run/options.hpp"

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "gasched/active_search.hpp"
#include "gasched/scheduler.hpp"
#include "gasched_run/options_groups.hpp"
#include "process_options.hpp"

namespace gasched::run {

namespace {

struct cluster_opts {
  CLI::Option* max_restarts;
  CLI::Option* restart_window;
  CLI::Option* no_nodes_timeout;
};

// Supervision, the no-nodes timeout and heartbeats: what makes a run end
// instead of hang when the cluster does not behave.
cluster_opts add_failure_options(CLI::App& app, options& o, uint32_t& no_nodes_timeout,
                                 const std::string& group) {
  cluster_opts result;
  result.max_restarts =
    app.add_option("--max-restarts", o.max_restarts,
                   "a local node that dies is started again under its name, at most N "
                   "times in --restart-window; one death more ends the run with exit 1 "
                   "(0: the first death does) (0..1000)")
      ->type_name("N")
      ->check(CLI::Range(0u, 1000u).description(""))
      ->capture_default_str()
      ->group(group);
  result.restart_window = app.add_option("--restart-window", o.restart_window,
                                         "the window of --max-restarts (1..86400)")
                            ->type_name("SECONDS")
                            ->check(CLI::Range(1u, 86400u).description(""))
                            ->capture_default_str()
                            ->group(group);
  result.no_nodes_timeout =
    app.add_option("--no-nodes-timeout", no_nodes_timeout,
                   "end the run (exit 1, every task left reported unfinished) when tasks "
                   "wait and no node has been up for this long; 0: wait forever. Default: "
                   "60 with local nodes, 0 with --nodes 0 or --connect (0..604800)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0u, 604800u).description(""))
      ->group(group);
  add_heartbeat_options(app, o, group);
  return result;
}

// The options whose text or presence the checks after parsing need.
struct given_options {
  std::string listen, connect, http;
  bool no_check = false;
  uint32_t no_nodes_timeout = 0;
  CLI::Option* serve = nullptr;
  CLI::Option* nodes = nullptr;
  CLI::Option* slots = nullptr;
  CLI::Option* program = nullptr;
  CLI::Option* listen_opt = nullptr;
  CLI::Option* connect_opt = nullptr;
  CLI::Option* retries = nullptr;
  CLI::Option* retry_timeout = nullptr;
  CLI::Option* prefetch = nullptr;
  CLI::Option* kill_after = nullptr;
  CLI::Option* http_opt = nullptr;
  CLI::Option* log = nullptr;
  cluster_opts failure{};
};

const char* description() {
  return
    "gasched-run: spreads a batch of tasks over gasched-node processes and gets every "
    "one done, even when a node dies.\n\n"
    "With no arguments it runs the default job: it generates a data set of game events "
    "(batch files of JSON lines), starts a scheduler and 2 local gasched-node processes, "
    "aggregates each batch on a node (daily active users, sessions, revenue, a progress "
    "funnel per game), merges the partial results, prints a summary and checks it "
    "against a single-process computation.\n\n"
    "Examples:\n"
    "  gasched-run                          the default job\n"
    "  gasched-run --kill-node-after 50     ... and kill -9 a node after 50 results\n"
    "  gasched-run --tasks tasks.jsonl      your tasks, one JSON object a line:\n"
    "      {\"fn\": \"hello.world\", \"args\": [1], \"priority\": 0}\n"
    "  gasched-run --tasks tasks.jsonl --journal run.db --out results.jsonl\n"
    "                                       ... killed at any moment, the same command "
    "finishes\n"
    "                                       the batch: each line's result once in "
    "results.jsonl\n"
    "  gasched-run --listen 7000 --serve    a scheduler on 127.0.0.1:7000 that nodes "
    "(gasched-node --join)\n"
    "                                       and clients (gasched-run --connect) reach\n"
    "  gasched-run --tls certs/sched --listen 0.0.0.0:7000 --serve\n"
    "                                       the same for other machines, over mutual TLS "
    "(gasched-certs)\n\n"
    "Local nodes are supervised: one that dies is started again (see --max-restarts).\n\n"
    "Exit status: 0 when every task succeeded (and the check passed); 1 when a task "
    "failed, a task line was malformed or the run could not complete (a local node died "
    "too often, no node for --no-nodes-timeout, TLS files refused, ...: every task left "
    "is reported unfinished; with --journal the same command started again finishes "
    "them), or a --journal or --out file was refused; 2 on a usage error; 128+N after "
    "signal N (Ctrl-C: 130), also for --serve stopped with tasks unfinished (0 when none "
    "was).";
}

// The job: the default one (its data set), a task file, or none (--serve).
void add_job_options(CLI::App& app, options& o, given_options& g) {
  std::string job = "Job (default: the game-events job)";
  app.add_option("--tasks", o.tasks_file,
                 "run the tasks in FILE, one JSON object a line, and print each result as "
                 "a JSON line; - reads stdin; a FIFO or <(command) works too")
    ->type_name("FILE")
    ->check(CLI::Validator(check_task_file, ""))
    ->group(job);
  add_stream_options(app, o, job);
  g.serve = app.add_flag("--serve", o.serve,
                         "with --listen: run no job of its own; serve nodes that join and "
                         "clients that --connect until Ctrl-C")
              ->group(job);
  app.add_option("--data", o.data_dir,
                 "folder for the default job's batch files and partial results, kept "
                 "afterwards; the local nodes may read and write only there (their "
                 "--data-dir), and remote nodes need a --data-dir with the same content "
                 "(tasks name files relative to it). Default: a temporary folder for the "
                 "default job, removed at exit; none with --tasks")
    ->type_name("DIR")
    ->group(job);
  app.add_flag("--keep-data", o.keep_data, "keep the temporary data folder")->group(job);
  add_data_set_options(app, o, job);
  app.add_flag("--no-check", g.no_check,
               "skip checking the merged totals against a single-process computation")
    ->group(job);
}

// Where the nodes are: started here, joining through --listen, or behind
// the scheduler of --connect.
void add_node_options(CLI::App& app, options& o, given_options& g, const std::string& group) {
  g.nodes = app.add_option("--nodes", o.nodes,
                           "gasched-node processes to start on this machine (0..64); 0 "
                           "(with --listen) starts none and waits for nodes to join")
              ->type_name("N")
              ->check(CLI::Range(0u, 64u).description(""))
              ->capture_default_str()
              ->group(group);
  g.slots = app.add_option("--slots", o.slots,
                           "tasks each local node runs at once, and most a joining node gets "
                           "(1..256)")
              ->type_name("N")
              ->check(CLI::Range(1u, 256u).description(""))
              ->capture_default_str()
              ->group(group);
  g.program = app.add_option("--node-program", o.node_program,
                             "the node program to start; default: gasched-node next to "
                             "gasched-run")
                ->type_name("PATH")
                ->group(group);
  g.listen_opt = app.add_option("--listen", g.listen,
                                "also publish the scheduler at [HOST:]PORT (HOST "
                                "default 127.0.0.1, PORT 0 picks one) for nodes that "
                                "join and remote clients; beyond loopback it needs "
                                "--tls (or --insecure)")
                   ->type_name("[HOST:]PORT")
                   ->group(group);
  g.connect_opt = app.add_option("--connect", g.connect,
                                 "be a client of the scheduler published at HOST:PORT "
                                 "(by gasched-run --listen): no local scheduler or nodes; "
                                 "several (A,B,C: schedulers sharing a journal): the active "
                                 "one among them at the start")
                    ->type_name("HOST:PORT[,...]")
                    ->group(group);
}

// How the nodes run tasks.
void add_task_run_options(CLI::App& app, options& o, given_options& g,
                          const std::string& group) {
  g.retries = app.add_option("--max-retries", o.max_retries,
                             "attempts of a failing task on its node (1..1000)")
                ->type_name("N")
                ->check(CLI::Range(1u, 1000u).description(""))
                ->capture_default_str()
                ->group(group);
  g.retry_timeout = app.add_option("--retry-timeout", o.retry_timeout_ms,
                                   "pause between attempts, in milliseconds")
                      ->type_name("MS")
                      ->capture_default_str()
                      ->group(group);
  g.prefetch = app.add_option_function<std::string>(
                   "--prefetch",
                   [&o](const std::string& v) {
                     o.prefetch = v == "adaptive" ? gasched::adaptive_prefetch
                                                  : static_cast<uint32_t>(std::stoul(v));
                   },
                   "tasks per slot a node holds beyond those it runs: adaptive (the "
                   "default: about one round trip of each function's observed work), "
                   "or a fixed 0..1000 (0: only what it runs, as gascheduler)")
                 ->type_name("adaptive|N")
                 ->check(CLI::IsMember({"adaptive"}) | CLI::Range(0u, 1000u))
                 ->group(group);
  g.kill_after = app.add_option("--kill-node-after", o.kill_node_after,
                                "kill -9 one local node after N results, to watch the "
                                "scheduler requeue its tasks and supervision restart it")
                   ->type_name("N")
                   ->check(CLI::Range(uint64_t{1}, UINT64_MAX).description(""))
                   ->group(group);
}

// A client of a remote scheduler has none of the scheduler's options, and
// a server needs an address.
void check_client_and_server(const given_options& g) {
  // Checked here rather than with CLI11's excludes(), which would list
  // every pair in --help. A client of a remote scheduler has none of
  // these: that scheduler's nodes and settings are not ours.
  if (g.connect_opt->count() > 0)
    for (auto* opt : {g.listen_opt, g.serve, g.nodes, g.slots, g.program, g.retries,
                      g.retry_timeout, g.prefetch, g.kill_after, g.failure.max_restarts,
                      g.failure.restart_window})
      if (opt->count() > 0)
        throw CLI::ValidationError(opt->get_name(),
                                   "does not apply with --connect: the scheduler there "
                                   "has its own nodes and settings");
  if (g.serve->count() > 0 && g.listen_opt->count() == 0)
    throw CLI::ValidationError("--serve", "needs --listen: clients and nodes must reach "
                                          "the scheduler");
}

void take_addresses(options& o, const given_options& g) {
  if (!g.listen.empty()
      && !split_address(g.listen, "127.0.0.1", 0, o.listen_host, o.listen_port))
    throw CLI::ValidationError("--listen", "wants [HOST:]PORT with PORT 0..65535, got "
                                             + g.listen);
  if (o.listening())
    check_exposure(o, "--listen", o.listen_host, strangers_can);
  take_http(o, g.http_opt, g.http);
  if (g.connect.find(',') != std::string::npos) {
    std::string bad;
    auto list = gasched::parse_addresses(g.connect, &bad);
    if (!list)
      throw CLI::ValidationError("--connect", "wants HOST:PORT or a comma-separated list of "
                                              "them, got " + (bad.empty() ? g.connect : bad));
    for (auto& a : *list)
      o.connect_list.push_back(gasched::to_string(a));
    o.connect_host = list->front().host;
    o.connect_port = list->front().port;
  } else if (!g.connect.empty()) {
    int port = 0;
    if (g.connect.find(':') == std::string::npos
        || !split_address(g.connect, "", 1, o.connect_host, port))
      throw CLI::ValidationError("--connect", "wants HOST:PORT, got " + g.connect);
    o.connect_port = static_cast<uint16_t>(port);
  }
}

// Options that make no sense together, or need another.
void check_combinations(const CLI::App& app, options& o, const given_options& g) {
  if (o.nodes == 0 && !o.listening() && !o.connecting())
    throw CLI::ValidationError("--nodes", "0 starts no node: give --listen too, so that "
                                          "nodes can join");
  check_heartbeats(o);
  o.no_nodes_timeout = g.failure.no_nodes_timeout->count() > 0 ? g.no_nodes_timeout
                       : o.nodes > 0 && !o.connecting()  ? 60
                                                         : 0;
  if (app.count("--out") > 0 && o.tasks_file.empty())
    throw CLI::ValidationError("--out", "needs --tasks: it is about a file of tasks");
  // A served scheduler's journal is the scheduler's own (its tasks, from
  // every client); a run's is about a task file. The default job has none.
  if (app.count("--journal") > 0 && o.tasks_file.empty() && !o.serve)
    throw CLI::ValidationError("--journal", "needs --tasks or --serve: it records a file of "
                                            "tasks, or a served scheduler's tasks");
  if (!o.journal.empty() && o.connecting())
    throw CLI::ValidationError("--journal", "does not apply with --connect: the scheduler "
                                            "there keeps its own journal, if any");
  bool shared = o.journal.rfind("postgresql://", 0) == 0 || o.journal.rfind("postgres://", 0) == 0;
  for (auto name : {"--advertise", "--lease-time", "--journal-cluster"})
    if (app.count(name) > 0 && !(o.serve && shared))
      throw CLI::ValidationError(name, "needs --serve and a PostgreSQL --journal "
                                       "(postgresql://...): it is about standby schedulers");
  if (shared && !o.serve)
    throw CLI::ValidationError("--journal", "a PostgreSQL journal is for --serve (schedulers "
                                            "sharing it); a run's journal is an SQLite file");
  if (shared && o.advertise.empty() && o.listen_port == 0)
    throw CLI::ValidationError("--journal", "a PostgreSQL journal needs --advertise HOST:PORT "
                                            "with --listen port 0: standbys must name this "
                                            "scheduler's address");
  if (o.serve && !o.tasks_file.empty())
    throw CLI::ValidationError("--serve", "runs no job: it cannot take --tasks");
  if (o.kill_node_after > 0 && o.nodes < 2)
    throw CLI::ValidationError("--kill-node-after",
                               "needs at least 2 local nodes (--nodes), one to kill and "
                               "one to finish its tasks");
  if (o.kill_node_after > 0 && o.serve)
    throw CLI::ValidationError("--kill-node-after", "needs a job (not --serve)");
}

} // namespace

bool options::exposed_in_plain_text() const noexcept {
  return listening() && gasched::exposed_in_plain_text(*this, listen_host);
}

bool split_address(const std::string& text, const std::string& default_host,
                   int min_port, std::string& host, int& port) {
  auto address = parse_address(text, default_host, static_cast<uint16_t>(min_port));
  if (!address)
    return false;
  host = address->host;
  port = address->port;
  return true;
}

std::optional<options> parse_options(int argc, char** argv, int& exit_code) {
  options o;
  given_options g;
  CLI::App app{description()};
  app.get_formatter()->column_width(34);
  add_job_options(app, o, g);
  std::string cluster = "Cluster";
  add_node_options(app, o, g, cluster);
  add_task_run_options(app, o, g, cluster);
  g.failure = add_failure_options(app, o, g.no_nodes_timeout, "When things fail");
  add_trust_options(app, o, "Trust");
  add_threads_option(app, o, "Operations");
  g.http_opt = add_http_option(app, g.http, "Operations");
  add_http_names(app, o, "Operations");
  app.allow_extras();
  app.footer("CAF's own options pass through as --caf#key=value and configure this process "
             "(e.g. --caf#middleman.connection-timeout=3s, which wins over "
             "--heartbeat-timeout here).");
  g.log = add_output_options(app, o, "Output");

  try {
    app.parse(argc, argv);
    take_caf_args(app, o);
    check_caf_args(o);
    check_client_and_server(g);
    o.check = !g.no_check;
    o.log_given = g.log->count() > 0;
    take_addresses(o, g);
    check_combinations(app, o, g);
  } catch (const CLI::ParseError& e) {
    auto code = app.exit(e);
    exit_code = code == 0 ? 0 : 2;
    return std::nullopt;
  }
  return o;
}

} // namespace gasched::run
