#include "process_options.hpp"

#include "gasched/errc.hpp"
#include "gasched/init.hpp"

#include <vector>

namespace gasched {

namespace {

CLI::Option* in_group(CLI::Option* opt, const std::string& group) {
  return group.empty() ? opt : opt->group(group);
}

} // namespace

void add_heartbeat_options(CLI::App& app, process_settings& s, const std::string& group) {
  in_group(app.add_option("--heartbeat", s.heartbeat_ms,
                          "a heartbeat on every connection this often; shorter finds a hung "
                          "peer sooner, at a small message per connection per beat. Every "
                          "process of a cluster takes the same (gasched-run gives its own to "
                          "the nodes it starts) (10..60000)")
             ->type_name("MS")
             ->check(CLI::Range(10u, 60000u).description(""))
             ->capture_default_str(),
           group);
  in_group(app.add_option("--heartbeat-timeout", s.heartbeat_timeout_ms,
                          "a peer silent this long is declared down: a node's tasks are "
                          "requeued, a joined node joins again. Shorter finds a hung peer "
                          "sooner but raises false alarms on a slow network; 0: never; "
                          "longer than --heartbeat (0..3600000)")
             ->type_name("MS")
             ->check(CLI::Range(0u, 3600000u).description(""))
             ->capture_default_str(),
           group);
}

void add_tls_option(CLI::App& app, process_settings& s, const std::string& group) {
  in_group(app.add_option("--tls", s.tls_dir,
                          "mutual TLS with the certificates in DIR (ca.pem, cert.pem, key.pem; "
                          "gasched-certs makes them): only peers of the same CA may connect. "
                          "Every process of a cluster takes it, or none (gasched-run gives "
                          "it to the nodes it starts, and uses it towards --connect)")
             ->type_name("DIR"),
           group);
}

void add_trust_options(CLI::App& app, process_settings& s, const std::string& group) {
  add_tls_option(app, s, group);
  in_group(app.add_flag("--insecure", s.insecure,
                        "allow listening beyond loopback without --tls (--listen, --http, "
                        "a node's --host): anyone who reaches the port can use what "
                        "listens there"),
           group);
}

void add_threads_option(CLI::App& app, process_settings& s, const std::string& group) {
  in_group(app.add_option("--threads", s.threads,
                          "CAF scheduler threads of this process: gasched's actors never "
                          "block, and a node runs its tasks on threads of their own (1..64)")
             ->type_name("N")
             ->check(CLI::Range(1, 64).description(""))
             ->capture_default_str(),
           group);
}

CLI::Option* add_log_option(CLI::App& app, process_settings& s, const std::string& group) {
  return in_group(app.add_option("--log", s.log, "gasched's log level, on stderr")
                    ->type_name("off|error|warning|info|debug")
                    ->check(CLI::IsMember({"off", "error", "warning", "info", "debug"})
                              .description(""))
                    ->capture_default_str(),
                  group);
}

void check_heartbeats(const process_settings& s) {
  if (s.heartbeat_timeout_ms != 0 && s.heartbeat_timeout_ms <= s.heartbeat_ms)
    throw CLI::ValidationError("--heartbeat-timeout",
                               "must be longer than --heartbeat (or 0: never), else every "
                               "peer is declared down between two heartbeats");
}

void take_caf_args(const CLI::App& app, process_settings& s) {
  std::vector<std::string> unexpected;
  for (auto& extra : app.remaining())
    (extra.rfind("--caf#", 0) == 0 ? s.caf_args : unexpected).push_back(extra);
  if (!unexpected.empty())
    throw CLI::ExtrasError(unexpected);
}

void check_caf_args(const process_settings& s) {
  // Without TLS: its files are a runtime error (exit 1), checked by the program.
  auto plain = s;
  plain.tls_dir.clear();
  caf::actor_system_config probe;
  if (auto err = configure(probe, plain))
    throw CLI::ValidationError("--caf#", "CAF does not accept it: " + probe.render(err));
  if (auto err = check_settings(probe))
    throw CLI::ValidationError("--caf#", describe(err));
}

void check_exposure(const process_settings& s, const std::string& option,
                    const std::string& host, const std::string& can) {
  if (exposed_in_plain_text(s, host) && !s.insecure)
    throw CLI::ValidationError(option, host + " is reachable beyond this machine, and without "
                                              "--tls anyone who reaches the port can " + can
                                         + ". Use --tls DIR (make the certificates with "
                                           "gasched-certs), listen on 127.0.0.1, or add "
                                           "--insecure if you mean it");
}

} // namespace gasched
