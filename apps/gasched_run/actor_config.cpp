#include "gasched_run/actor_config.hpp"

#include <chrono>

#include "gasched/init.hpp"
#include "gasched_run/options.hpp"

namespace gasched::run {

// options.hpp repeats the library's defaults (for --help): keep them equal.
static_assert(std::chrono::milliseconds(default_heartbeat_ms) == heartbeat_options{}.interval);
static_assert(std::chrono::milliseconds(default_heartbeat_timeout_ms)
              == heartbeat_options{}.timeout);

caf::error configure_actor_system(caf::actor_system_config& cfg, const options& opts) {
  heartbeat_options heartbeats;
  heartbeats.interval = std::chrono::milliseconds(opts.heartbeat_ms);
  heartbeats.timeout = std::chrono::milliseconds(opts.heartbeat_timeout_ms);
  if (auto err = init(cfg, heartbeats, tls_options::from_dir(opts.tls_dir)))
    return err;
  // Without --caf# options CAF's parser is not asked at all: it would also
  // read a caf-application.ini from the working directory.
  if (opts.caf_args.empty())
    return caf::none;
  return cfg.parse(opts.caf_args);
}

caf::error check_tls(const options& opts) {
  if (opts.tls_dir.empty())
    return caf::none;
  caf::actor_system_config probe;
  return init(probe, {}, tls_options::from_dir(opts.tls_dir));
}

} // namespace gasched::run
