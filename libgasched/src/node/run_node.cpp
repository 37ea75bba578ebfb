// gasched::run_node: the whole of a node program around the application's registry.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
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

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/init.hpp"
#include "gasched/log.hpp"
#include "gasched/node.hpp"
#include "gasched/run_node.hpp"
#include "gasched/scheduler.hpp"
#include "wire.hpp"

namespace gasched {

namespace {

std::string hostname() {
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  return host;
}

// What the command line asks for.
struct command_line {
  int port = -1;
  std::string host = "127.0.0.1";
  std::string join;
  std::string join_host;
  uint16_t join_port = 0;
  std::string name;
  uint32_t slots = 0;
  size_t threads = 2;
  std::string level = "warning";
  std::vector<std::string> excluded;
  uint32_t heartbeat_ms = 0;          // set from heartbeat_options' defaults
  uint32_t heartbeat_timeout_ms = 0;
  std::vector<std::string> caf_args;  // --caf#key=value
  std::string tls_dir;                // --tls: ca.pem, cert.pem, key.pem
  bool insecure = false;              // plain text beyond loopback, on purpose
  uint32_t max_attempts = 0;
  uint32_t min_retry_pause_ms = 0;
  std::string data_dir;               // --data-dir, made canonical
  bool list_functions = false;
};

// Where --data-dir reaches the node program's `configure` (and through it
// the task functions that touch files): a key of the config's content.
constexpr const char* data_dir_key = "gasched.data-dir";

bool loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

uint32_t to_ms(caf::timespan t) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
}

void add_options(CLI::App& app, command_line& cl) {
  app.add_option("--port", cl.port,
                 "publish the node on this port (0: any free port); default: 0 "
                 "unless --join is given")
    ->check(CLI::Range(0, 65535));
  app.add_option("--host", cl.host, "address to publish on")->capture_default_str();
  app.add_option("--join", cl.join, "join the scheduler published at HOST:PORT, and "
                                    "again whenever the connection is lost");
  app.add_option("--name", cl.name, "node name in stats and results; default: "
                                    "HOST:PORT, or HOST:PID when only joining");
  app.add_option("--slots", cl.slots, "tasks run at once; 0: the scheduler's max_workers")
    ->capture_default_str();
  app.add_option("--threads", cl.threads, "CAF scheduler threads (tasks run on their own)")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  app.add_option("--log", cl.level, "off, error, warning, info or debug")
    ->check(CLI::IsMember({"off", "error", "warning", "info", "debug"}))
    ->capture_default_str();
  app.add_option("--exclude", cl.excluded, "do not offer this function (repeatable)");
  app.add_option("--heartbeat", cl.heartbeat_ms,
                 "milliseconds between heartbeats on each connection; shorter finds a hung "
                 "peer sooner, at a small message per connection per beat (10..60000)")
    ->check(CLI::Range(10u, 60000u))
    ->capture_default_str();
  app.add_option("--heartbeat-timeout", cl.heartbeat_timeout_ms,
                 "milliseconds of silence after which a peer is declared down (a joined "
                 "node then joins again); shorter finds a hung peer sooner but raises "
                 "false alarms on a slow network; 0: never. Use the scheduler's values "
                 "(0..3600000)")
    ->check(CLI::Range(0u, 3600000u))
    ->capture_default_str();
}

// Who may use the node, and what it lets them do.
void add_trust_options(CLI::App& app, command_line& cl) {
  app.add_option("--tls", cl.tls_dir,
                 "mutual TLS with the certificates in DIR (ca.pem, cert.pem, key.pem; "
                 "gasched-certs makes them): only peers of the same CA may connect");
  app.add_flag("--insecure", cl.insecure,
               "allow --host beyond loopback without --tls (anyone who reaches the port "
               "can use the node)");
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
  const heartbeat_options defaults;
  cl.heartbeat_ms = to_ms(defaults.interval);
  cl.heartbeat_timeout_ms = to_ms(defaults.timeout);
  add_options(app, cl);
  add_trust_options(app, cl);
  app.allow_extras();
  app.footer("Functions offered: " + offered_names + " (see --list-functions).");
  try {
    app.parse(argc, argv);
    if (cl.heartbeat_timeout_ms != 0 && cl.heartbeat_timeout_ms <= cl.heartbeat_ms)
      throw CLI::ValidationError("--heartbeat-timeout",
                                 "must be longer than --heartbeat (or 0: never)");
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (auto& extra : app.remaining()) {
    if (extra.rfind("--caf#", 0) != 0) {
      std::cerr << argv[0] << ": unknown argument " << extra << " (see --help)\n";
      return 2;
    }
    cl.caf_args.push_back(extra);
  }
  if (!cl.join.empty()) {
    auto joined = parse_address(cl.join);
    if (!joined) {
      std::cerr << argv[0] << ": --join wants HOST:PORT, got " << cl.join << "\n";
      return 2;
    }
    cl.join_host = joined->host;
    cl.join_port = joined->port;
  }
  if (cl.port < 0 && cl.join.empty())
    cl.port = 0;
  if (cl.port >= 0 && !loopback(cl.host) && cl.tls_dir.empty() && !cl.insecure) {
    std::cerr << argv[0] << ": --host " << cl.host
              << " without --tls lets anyone who reaches the port run tasks; use --tls DIR "
                 "(see gasched-certs), or --insecure if you mean it\n";
    return 2;
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
  heartbeat_options heartbeats;
  heartbeats.interval = std::chrono::milliseconds(cl.heartbeat_ms);
  heartbeats.timeout = std::chrono::milliseconds(cl.heartbeat_timeout_ms);
  // --caf#middleman.* options, parsed below, still win.
  if (auto err = init(cfg, heartbeats, tls_options::from_dir(cl.tls_dir)))
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
  // Few CAF threads: ten nodes share a machine's cores, and tasks run on
  // the node's own threads. (init chose the policy whose idle threads sleep.)
  cfg.set("scheduler.max-threads", cl.threads);
  return cfg.parse(cl.caf_args);
}

// Spawns the node, publishes and/or joins; the node, or nothing after an
// error (reported on stderr).
caf::actor start_node(caf::actor_system& sys, const registry& offered, const command_line& cl,
                      const char* program) {
  node_options opts;
  opts.slots = cl.slots;
  opts.join_host = cl.join_host;
  opts.join_port = cl.join_port;
  opts.name = cl.name;
  // A node that only joins serves its scheduler alone; a published one is
  // handed to schedulers by address.
  opts.serve_any = cl.port >= 0;
  opts.max_attempts = cl.max_attempts;
  opts.min_retry_pause = std::chrono::milliseconds(cl.min_retry_pause_ms);
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
      opts.name = (cl.host == "0.0.0.0" ? hostname() : cl.host) + ":" + std::to_string(*actual);
      caf::scoped_actor{sys}->send(node, rename_atom::value, opts.name);
    }
    std::cout << "gasched-node " << opts.name << " listening on " << cl.host << ":"
              << *actual << std::endl;
  } else {
    if (opts.name.empty())
      opts.name = hostname() + ":" + std::to_string(getpid());
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
  log_level parsed = log_level::warning;
  parse_log_level(cl.level, parsed);
  set_log_level(parsed);
  caf::actor_system_config cfg;
  if (auto err = configure_system(cfg, cl, configure)) {
    // Ours (TLS files, the program's setup) are runtime failures; CAF's are
    // --caf# options it refused.
    auto ours = err.category() == error_category;
    std::cerr << argv[0] << ": " << (ours ? describe(err) : cfg.render(err)) << "\n";
    return ours ? 1 : 2;
  }
  if (cl.port >= 0 && !loopback(cl.host) && cl.tls_dir.empty())
    std::cerr << argv[0] << ": warning: listening on " << cl.host
              << " in plain text (--insecure)\n";
  // SIGINT / SIGTERM are awaited below; every thread started from here on
  // inherits the blocked mask, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  caf::actor_system sys{cfg};
  auto node = start_node(sys, offered, cl, argv[0]);
  if (!node)
    return 1;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  caf::scoped_actor self{sys};
  self->send_exit(node, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace gasched
