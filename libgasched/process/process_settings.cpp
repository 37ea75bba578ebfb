#include "process_settings.hpp"

#include <chrono>

#include "gasched/init.hpp"
#include "gasched/log.hpp"
#include "net/host_name.hpp"

namespace gasched {

namespace {

uint32_t to_ms(caf::timespan t) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
}

} // namespace

process_settings::process_settings()
  : heartbeat_ms(to_ms(heartbeat_options{}.interval)),
    heartbeat_timeout_ms(to_ms(heartbeat_options{}.timeout)) {
}

std::string host_name() {
  return detail::host_name();
}

bool is_loopback(const std::string& host) noexcept {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool exposed_in_plain_text(const process_settings& s, const std::string& host) noexcept {
  return !is_loopback(host) && s.tls_dir.empty();
}

std::string plain_text_warning(const std::string& host, const std::string& can) {
  return "warning: listening on " + host + " in plain text (--insecure): anyone who reaches "
         "the port can " + can;
}

caf::error configure(caf::actor_system_config& cfg, const process_settings& s) {
  heartbeat_options heartbeats;
  heartbeats.interval = std::chrono::milliseconds(s.heartbeat_ms);
  heartbeats.timeout = std::chrono::milliseconds(s.heartbeat_timeout_ms);
  if (auto err = init(cfg, heartbeats, tls_options::from_dir(s.tls_dir)))
    return err;
  cfg.set("scheduler.max-threads", s.threads);
  if (s.caf_args.empty())
    return caf::none;
  return cfg.parse(s.caf_args);
}

caf::error check_tls(const process_settings& s) {
  if (s.tls_dir.empty())
    return caf::none;
  caf::actor_system_config probe;
  return init(probe, {}, tls_options::from_dir(s.tls_dir));
}

void apply_log_level(const process_settings& s) {
  log_level level = log_level::warning;
  parse_log_level(s.log, level);
  set_log_level(level);
}

} // namespace gasched
