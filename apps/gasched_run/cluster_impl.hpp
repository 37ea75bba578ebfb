// cluster's insides (cluster.cpp): what the main thread sets up and tears
// down around the cluster actor (cluster_actor.cpp), which does the work.
#pragma once

#include <future>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "gasched/http.hpp"
#include "gasched_run/cluster.hpp"
#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

struct cluster::impl {
  const options& opts;
  progress& display;
  stop_signals& signals;
  local_nodes nodes;
  bool launched = false;  ///< launch_nodes() ran
  supervisor supervision{nodes,
                         restart_policy{opts.max_restarts,
                                        std::chrono::seconds(opts.restart_window)},
                         display};
  cluster_context ctx{opts, display, signals, nodes, supervision, {}, false, {}, unix_ms_now(), 0, {}};

  std::optional<caf::actor_system_config> cfg;
  std::optional<caf::actor_system> sys;
  cluster_actor actor;  ///< from start() until shutdown()
  std::future<void> actor_exited;
  // Signals (a stop request, a local node's death) reach the actor; after
  // sys, so that it is gone before the actor system.
  stop_signals::subscription woken;
  std::optional<http_server> http;  ///< --http; declared after sys: destroyed before it
  std::mutex http_mx;  ///< the actor's thread points http at a scheduler it followed
  bool stopped = false;  ///< shutdown() ran

  impl(const options& o, progress& d, stop_signals& s) : opts(o), display(d), signals(s) {
  }

  void launch_nodes(const std::string& data_dir);
  void show_node_logs(bool all);
  void start_actor_system();
  void start();
  void connect_nodes_and_spawn();
  void publish_scheduler();
  std::string role_line();
  void serve_dashboard();
  /// Throws when the actor is gone (a handler threw): no job would be answered.
  void check_actor() const;
  std::string note(const std::string& key, std::optional<std::string> value);
  void shutdown();
};

} // namespace gasched::run
