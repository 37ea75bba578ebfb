#include "gasched_run/actor_config.hpp"

#include "gasched_run/options.hpp"

namespace gasched::run {

caf::error configure_actor_system(caf::actor_system_config& cfg, const options& opts) {
  return configure(cfg, opts);
}

caf::error check_tls(const options& opts) {
  return gasched::check_tls(opts);
}

} // namespace gasched::run
