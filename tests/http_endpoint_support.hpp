// What the tests of the HTTP endpoint share besides requests
// (browser/http_support.hpp): a scheduler of known capacity, and its
// endpoint on a free loopback port.
#pragma once

#include <cstdint>
#include <utility>

#include "actor_support.hpp"
#include "browser/http_support.hpp"

namespace gasched::testing {

/// A scheduler with one in-process node "n1" that runs `slots` tasks at once.
inline scheduler_actor one_node_scheduler(cluster& c, uint32_t slots) {
  auto opts = c.options({c.node("n1", slots)});
  opts.max_workers = slots;
  return c.scheduler(opts);
}

/// `sched`'s endpoint at 127.0.0.1 (unless `opts` says otherwise) on a port
/// of its own choosing.
inline http_server serve(cluster& c, const gasched::scheduler_actor& sched,
                         http_options opts = {}) {
  opts.port = 0;
  auto srv = serve_http(c.sys(), sched, std::move(opts));
  if (!srv)
    FAIL("serve_http: " << describe(srv.error()));
  REQUIRE(srv->port() != 0);
  return std::move(*srv);
}

} // namespace gasched::testing
