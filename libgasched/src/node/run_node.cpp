// gasched::run_node: the whole of a node program around the application's registry.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>

#include "gasched/active_search.hpp"
#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/init.hpp"
#include "gasched/log.hpp"
#include "gasched/node.hpp"
#include "gasched/run_node.hpp"
#include "gasched/scheduler.hpp"
#include "process_options.hpp"
#include "stop_signal.hpp"
#include "net/host_name.hpp"
#include "wire.hpp"

namespace gasched {

namespace {

// What the command line asks for.
struct command_line {
  int port = -1;
  std::string host = "127.0.0.1";
  std::string join;
  std::vector<address> joins;  // --join's addresses
  std::string name;
  uint32_t slots = 0;
  std::vector<std::string> excluded;
  process_settings process;  // heartbeats, --tls, --insecure, --threads, --log, --caf#
  uint32_t max_attempts = 0;
  uint32_t min_retry_pause_ms = 0;
  uint32_t worker_restarts = node_options{}.worker_restarts;
  uint32_t worker_restart_period_ms = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(node_options{}.worker_restart_period)
      .count());
  std::string data_dir;               // --data-dir, made canonical
  bool list_functions = false;
};

// Where --data-dir reaches the node program's `configure` (and through it
// the task functions that touch files): a key of the config's content.
constexpr const char* data_dir_key = "gasched.data-dir";

// What anyone who reaches a node's port in plain text can do.
constexpr const char* strangers_can = "run tasks on this node";

bool exposed(const command_line& cl) {
  return cl.port >= 0 && exposed_in_plain_text(cl.process, cl.host);
}

void add_options(CLI::App& app, command_line& cl) {
  app.add_option("--port", cl.port,
                 "publish the node on this port (0: any free port); default: 0 "
                 "unless --join is given")
    ->check(CLI::Range(0, 65535));
  app.add_option("--host", cl.host, "address to publish on")->capture_default_str();
  app.add_option("--join", cl.join, "join the scheduler published at HOST:PORT, and "
                                    "again whenever the connection is lost; several "
                                    "(A,B,C: schedulers sharing a journal): join the active "
                                    "one, and follow it across takeovers")
    ->type_name("HOST:PORT[,...]");
  app.add_option("--name", cl.name, "node name in stats and results; default: "
                                    "HOST:PORT, or HOST:PID when only joining");
  app.add_option("--slots", cl.slots, "tasks run at once; 0: the scheduler's max_workers")
    ->capture_default_str();
  add_threads_option(app, cl.process);
  add_log_option(app, cl.process);
  app.add_option("--exclude", cl.excluded, "do not offer this function (repeatable)");
  add_heartbeat_options(app, cl.process);
  // The restart intensity of the task workers, as an OTP supervisor's.
  app.add_option("--worker-restarts", cl.worker_restarts,
                 "task-worker deaths tolerated within --worker-restart-period (a dying "
                 "worker's task counts as a failed attempt); one more and the node stops, so "
                 "that its tasks go to other nodes (0..1000000)")
    ->type_name("N")
    ->check(CLI::Range(0u, 1000000u).description(""))
    ->capture_default_str();
  app.add_option("--worker-restart-period", cl.worker_restart_period_ms,
                 "the window over which --worker-restarts counts deaths (1..86400000)")
    ->type_name("MS")
    ->check(CLI::Range(1u, 86400000u).description(""))
    ->capture_default_str();
}

// Who may use the node, and what it lets them do.
void add_node_trust_options(CLI::App& app, command_line& cl) {
  add_trust_options(app, cl.process);
  app.add_option("--max-attempts", cl.max_attempts,
                 "attempts per task at most, whatever a scheduler asks; 0: as it asks")
    ->capture_default_str();
  app.add_option("--min-retry-pause", cl.min_retry_pause_ms,
                 "milliseconds between attempts at least, whatever a scheduler asks")
    ->capture_default_str();
  app.add_option("--data-dir", cl.data_dir,
                 "the folder that task functions which touch files (events.aggregate) "
                 "may read and write; paths outside it are refused. Default: none, and "
                 "such functions refuse every task")
    ->type_name("DIR")
    ->check(CLI::ExistingDirectory.description(""));
  app.add_flag("--list-functions", cl.list_functions,
               "print the functions this node offers, with their parameter types, and exit");
}

// Fills `cl`; -1 to go on, else the exit code: 0 after --help, 2 after a
// usage error (reported on stderr).
int parse_command_line(int argc, char** argv, command_line& cl,
                       const std::string& offered_names) {
  CLI::App app{"Runs gasched tasks: publishes a node and/or joins a scheduler.\n"
               "CAF options pass through as --caf#key=value.\n"
               "Exit status: 0 when stopped by SIGINT or SIGTERM; 1 when it cannot start "
               "(port in use, TLS files refused); 2 on a usage error."};
  // Few CAF threads: ten nodes share a machine's cores, and tasks run on
  // the node's own threads.
  cl.process.threads = 2;
  add_options(app, cl);
  add_node_trust_options(app, cl);
  app.allow_extras();
  app.footer("Functions offered: " + offered_names + " (see --list-functions).");
  try {
    app.parse(argc, argv);
    check_heartbeats(cl.process);
    take_caf_args(app, cl.process);
    if (cl.port < 0 && cl.join.empty())
      cl.port = 0;
    if (cl.port >= 0)
      check_exposure(cl.process, "--host", cl.host, strangers_can);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!cl.join.empty()) {
    std::string bad;
    auto joined = parse_addresses(cl.join, &bad);
    if (!joined) {
      std::cerr << argv[0] << ": --join wants HOST:PORT or a comma-separated list of them, got "
                << (bad == cl.join ? cl.join : bad + " in " + cl.join) << "\n";
      return 2;
    }
    cl.joins = std::move(*joined);
  }
  if (!cl.data_dir.empty()) {
    std::error_code ec;
    auto canonical = std::filesystem::canonical(cl.data_dir, ec);
    if (ec) {
      std::cerr << argv[0] << ": --data-dir " << cl.data_dir << ": " << ec.message() << "\n";
      return 2;
    }
    cl.data_dir = canonical.string();
  }
  return -1;
}

caf::error configure_system(caf::actor_system_config& cfg, const command_line& cl,
                            const std::function<void(caf::actor_system_config&)>& configure) {
  // The program's setup runs between init and the --caf# options, which win.
  auto without_caf = cl.process;
  without_caf.caf_args.clear();
  if (auto err = gasched::configure(cfg, without_caf))
    return err;
  if (!cl.data_dir.empty())
    caf::put(cfg.content, data_dir_key, cl.data_dir);
  if (configure) {
    try {
      configure(cfg);
    } catch (const std::exception& e) {
      // The node program's own setup failed (its data folder vanished, ...).
      return make_error(errc::invalid_argument, e.what());
    }
  }
  return cfg.parse(cl.process.caf_args);
}

// Spawns the node, publishes and/or joins; the node, or nothing after an
// error (reported on stderr).
caf::actor start_node(caf::actor_system& sys, const registry& offered, const command_line& cl,
                      const char* program) {
  node_options opts;
  opts.slots = cl.slots;
  for (auto& a : cl.joins)
    opts.join.push_back(to_string(a));
  opts.name = cl.name;
  // A node that only joins serves its scheduler alone; a published one is
  // handed to schedulers by address.
  opts.serve_any = cl.port >= 0;
  opts.max_attempts = cl.max_attempts;
  opts.min_retry_pause = std::chrono::milliseconds(cl.min_retry_pause_ms);
  opts.worker_restarts = cl.worker_restarts;
  opts.worker_restart_period = std::chrono::milliseconds(cl.worker_restart_period_ms);
  caf::actor node;
  if (cl.port >= 0) {
    auto named = !opts.name.empty();
    if (!named)
      opts.name = "unnamed";  // renamed below, once the port is known
    node = spawn_node(sys, offered, opts);
    auto actual = publish(sys, node, static_cast<uint16_t>(cl.port), cl.host);
    if (!actual) {
      std::cerr << program << ": " << describe(actual.error()) << "\n";
      caf::scoped_actor{sys}->send_exit(node, caf::exit_reason::user_shutdown);
      return nullptr;
    }
    if (!named) {
      // Queued before anyone can know the port, so before any scheduler's hello.
      auto shown = cl.host == "0.0.0.0" ? detail::host_name() : cl.host;
      opts.name = shown + ":" + std::to_string(*actual);
      caf::scoped_actor{sys}->send(node, rename_atom::value, opts.name);
    }
    std::cout << "gasched-node " << opts.name << " listening on " << cl.host << ":"
              << *actual << std::endl;
  } else {
    if (opts.name.empty())
      opts.name = detail::host_name() + ":" + std::to_string(getpid());
    node = spawn_node(sys, offered, opts);
  }
  if (!cl.join.empty())
    std::cout << "gasched-node " << opts.name << " joining " << cl.join << std::endl;
  return node;
}

// The functions of `reg` that --exclude leaves; --list-functions prints them.
registry offered_functions(const registry& reg, const command_line& cl) {
  registry offered;
  for (auto& fn_name : reg.names())
    if (std::find(cl.excluded.begin(), cl.excluded.end(), fn_name) == cl.excluded.end())
      offered.add_function(fn_name, *reg.find(fn_name));
  return offered;
}

void list_functions(const registry& offered) {
  for (auto& fn_name : offered.names())
    std::cout << fn_name << offered.find(fn_name)->signature << "\n";
}

std::string joined_names(const registry& reg) {
  std::string result;
  for (auto& fn_name : reg.names())
    result += (result.empty() ? "" : ", ") + fn_name;
  return result.empty() ? "none" : result;
}

} // namespace

int run_node(int argc, char** argv, const registry& reg,
             const std::function<void(caf::actor_system_config&)>& configure) {
  command_line cl;
  if (auto code = parse_command_line(argc, argv, cl, joined_names(reg)); code >= 0)
    return code;
  auto offered = offered_functions(reg, cl);
  if (cl.list_functions) {
    list_functions(offered);
    return 0;
  }
  apply_log_level(cl.process);
  caf::actor_system_config cfg;
  if (auto err = configure_system(cfg, cl, configure)) {
    // Ours (TLS files, the program's setup) are runtime failures; CAF's are
    // --caf# options it refused.
    auto ours = err.category() == error_category;
    std::cerr << argv[0] << ": " << (ours ? describe(err) : cfg.render(err)) << "\n";
    return ours ? 1 : 2;
  }
  if (auto err = check_settings(cfg)) {  // a --caf# value gasched does not take
    std::cerr << argv[0] << ": --caf#: " << describe(err) << "\n";
    return 2;
  }
  if (exposed(cl))
    std::cerr << argv[0] << ": " << plain_text_warning(cl.host, strangers_can) << "\n";
  auto stop_signals = block_stop_signals();  // before the actor system's threads

  caf::actor_system sys{cfg};
  auto node = start_node(sys, offered, cl, argv[0]);
  if (!node)
    return 1;
  await_stop_signal(stop_signals);
  caf::scoped_actor self{sys};
  self->send_exit(node, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace gasched
