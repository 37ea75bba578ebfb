// gasched::run_node: the whole of a node program around the application's registry.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "gasched/init.hpp"
#include "gasched/log.hpp"
#include "gasched/node.hpp"
#include "gasched/scheduler.hpp"

namespace gasched {

namespace {

bool split_address(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  try {
    size_t used = 0;
    auto value = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || value == 0 || value > 65535)
      return false;
    host = text.substr(0, colon);
    port = static_cast<uint16_t>(value);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string hostname() {
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  return host;
}

} // namespace

int run_node(int argc, char** argv, const registry& reg,
             const std::function<void(caf::actor_system_config&)>& configure) {
  CLI::App app{"Runs gasched tasks: publishes a node and/or joins a scheduler.\n"
               "CAF options pass through as --caf#key=value."};
  int port = -1;
  std::string host = "127.0.0.1";
  std::string join;
  std::string name;
  uint32_t slots = 0;
  size_t threads = 2;
  std::string level = "warning";
  std::vector<std::string> excluded;
  app.add_option("--port", port,
                 "publish the node on this port (0: any free port); default: 0 "
                 "unless --join is given")
    ->check(CLI::Range(0, 65535));
  app.add_option("--host", host, "address to publish on")->capture_default_str();
  app.add_option("--join", join, "join the scheduler published at HOST:PORT, and "
                                 "again whenever the connection is lost");
  app.add_option("--name", name, "node name in stats and results; default: "
                                 "HOST:PORT, or HOST:PID when only joining");
  app.add_option("--slots", slots, "tasks run at once; 0: the scheduler's max_workers")
    ->capture_default_str();
  app.add_option("--threads", threads, "CAF scheduler threads (tasks run on their own)")
    ->check(CLI::Range(1, 64))
    ->capture_default_str();
  app.add_option("--log", level, "off, error, warning, info or debug")
    ->check(CLI::IsMember({"off", "error", "warning", "info", "debug"}))
    ->capture_default_str();
  app.add_option("--exclude", excluded, "do not offer this function (repeatable)");
  app.allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::vector<std::string> caf_args;
  for (auto& extra : app.remaining()) {
    if (extra.rfind("--caf#", 0) != 0) {
      std::cerr << argv[0] << ": unknown argument " << extra << " (see --help)\n";
      return 2;
    }
    caf_args.push_back(extra);
  }
  std::string join_host;
  uint16_t join_port = 0;
  if (!join.empty() && !split_address(join, join_host, join_port)) {
    std::cerr << argv[0] << ": --join wants HOST:PORT, got " << join << "\n";
    return 2;
  }
  if (port < 0 && join.empty())
    port = 0;
  log_level parsed = log_level::warning;
  parse_log_level(level, parsed);
  set_log_level(parsed);
  registry offered;
  for (auto& fn_name : reg.names())
    if (std::find(excluded.begin(), excluded.end(), fn_name) == excluded.end())
      offered.add_function(fn_name, *reg.find(fn_name));

  caf::actor_system_config cfg;
  init(cfg);
  if (configure)
    configure(cfg);
  cfg.set("scheduler.max-threads", threads);
  // Idle CAF threads block instead of polling: a node mostly waits, and ten
  // of them share a machine's cores (measured: lower latency too).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  if (auto err = cfg.parse(caf_args)) {
    std::cerr << argv[0] << ": " << cfg.render(err) << "\n";
    return 2;
  }
  // SIGINT / SIGTERM are awaited below; every thread started from here on
  // inherits the blocked mask, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  caf::actor_system sys{cfg};
  node_options opts;
  opts.slots = slots;
  opts.join_host = join_host;
  opts.join_port = join_port;
  opts.name = name;
  caf::actor node;
  if (port >= 0) {
    auto named = !opts.name.empty();
    if (!named)
      opts.name = "unnamed";  // renamed below, once the port is known
    node = spawn_node(sys, offered, opts);
    auto actual = publish(sys, node, static_cast<uint16_t>(port), host);
    if (!actual) {
      std::cerr << argv[0] << ": " << describe(actual.error()) << "\n";
      caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
      return 1;
    }
    if (!named) {
      // Queued before anyone can know the port, so before any scheduler's hello.
      opts.name = (host == "0.0.0.0" ? hostname() : host) + ":" + std::to_string(*actual);
      caf::anon_send(node, rename_atom::value, opts.name);
    }
    std::cout << "gasched-node " << opts.name << " listening on " << host << ":"
              << *actual << std::endl;
  } else {
    if (opts.name.empty())
      opts.name = hostname() + ":" + std::to_string(getpid());
    node = spawn_node(sys, offered, opts);
  }
  if (!join.empty())
    std::cout << "gasched-node " << opts.name << " joining " << join << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace gasched
