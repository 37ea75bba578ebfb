// What the multi-process tests share: real gasched-node processes on
// 127.0.0.1 with ports of their own choosing, killed for real. Every process
// dies with its child_process handle, and with the test binary if it crashes.
#pragma once

#include "actor_support.hpp"
#include "child_process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <caf/io/middleman.hpp>

#include <map>

namespace gasched::testing {

/// The test process: scheduler and client; node processes around it.
class process_cluster : public cluster {
public:
  /// Node processes use TLS when this process does: the identity "node"
  /// beside this process's own, or `node_tls_dir` when given.
  explicit process_cluster(const tls_options& tls = test_tls(),
                           std::string node_tls_dir = test_tls_dir().empty()
                                                        ? ""
                                                        : test_tls_dir() + "/node")
    : cluster(0, tls), node_tls_dir_(std::move(node_tls_dir)) {
  }

  struct node {
    tools::child_process process;
    std::string name;
    uint16_t port = 0;
    caf::actor handle;  // from connect(); invalid for joining nodes
  };

  /// Starts `n` published nodes named prefix1..prefixN and connects to them.
  std::vector<caf::actor> start_nodes(size_t n, const std::string& prefix = "node",
                                      std::vector<std::string> extra = {}) {
    std::vector<tools::child_process> started;
    std::vector<std::string> names;
    for (size_t i = 1; i <= n; ++i) {
      names.push_back(prefix + std::to_string(i));
      auto argv = node_argv({"--port", "0", "--name", names.back()});
      argv.insert(argv.end(), extra.begin(), extra.end());
      started.push_back(tools::child_process::start(argv, quiet()));
    }
    std::vector<caf::actor> handles;
    for (size_t i = 0; i < n; ++i) {
      auto line = started[i].read_line(std::chrono::seconds(20));
      REQUIRE(line);
      auto colon = line->rfind(':');
      REQUIRE(colon != std::string::npos);
      auto port = static_cast<uint16_t>(std::stoi(line->substr(colon + 1)));
      auto t0 = std::chrono::steady_clock::now();
      auto handle = connect(sys(), "127.0.0.1", port);
      if (!handle)
        FAIL("connect to " << names[i] << ": " << describe(handle.error()) << " after "
             << std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count()
             << " ms");
      handles.push_back(*handle);
      nodes_[names[i]] = node{std::move(started[i]), names[i], port, *handle};
    }
    return handles;
  }

  /// Starts a published node named `name` without connecting to it; its port.
  uint16_t start_published_node(const std::string& name) {
    auto proc = tools::child_process::start(node_argv({"--port", "0", "--name", name}),
                                            quiet());
    auto line = proc.read_line(std::chrono::seconds(20));
    REQUIRE(line);  // "gasched-node NAME listening on HOST:PORT"
    auto port = static_cast<uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
    nodes_[name] = node{std::move(proc), name, port, nullptr};
    return port;
  }

  /// Starts a node that joins the scheduler published at `port`.
  void start_joining_node(const std::string& name, uint16_t port,
                          std::vector<std::string> extra = {}) {
    auto argv = node_argv({"--join", "127.0.0.1:" + std::to_string(port), "--name", name});
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto proc = tools::child_process::start(argv, quiet());
    REQUIRE(proc.read_line(std::chrono::seconds(20)));  // "... joining ..."
    nodes_[name] = node{std::move(proc), name, 0, nullptr};
  }

  /// Publishes `sched` on a free port and starts a node joining it for each
  /// of `names`; the port, once all of them are up.
  uint16_t publish_with_joined_nodes(const gasched::scheduler_actor& sched,
                                     const std::vector<std::string>& names) {
    auto port = publish(sys(), sched, 0);
    REQUIRE(port);
    for (auto& name : names)
      start_joining_node(name, *port);
    auto joined = [n = names.size()](const stats& s) { return s.worker_node_count == n; };
    REQUIRE(wait_for_stats(sched, joined));
    return *port;
  }

  node& at(const std::string& name) {
    auto it = nodes_.find(name);
    REQUIRE(it != nodes_.end());
    return it->second;
  }

  /// kill -9
  void kill(const std::string& name) {
    at(name).process.kill();
  }

  void signal(const std::string& name, int sig) {
    at(name).process.signal(sig);
  }

  ~process_cluster() {
    nodes_.clear();  // kills every process still running
  }

  /// gasched-node with `args`, and --tls when the cluster uses TLS.
  std::vector<std::string> node_argv(std::vector<std::string> args) const {
    args.insert(args.begin(), GASCHED_NODE_PROGRAM);
    if (!node_tls_dir_.empty()) {
      args.push_back("--tls");
      args.push_back(node_tls_dir_);
    }
    return args;
  }

private:
  std::string node_tls_dir_;

  // Nodes log to this process's stderr only when GASCHED_LOG asks for it.
  static bool quiet() {
    return std::getenv("GASCHED_LOG") == nullptr;
  }

  std::map<std::string, node> nodes_;
};

/// Collects `n` results and says which ids and nodes they came from.
struct result_summary {
  std::map<task_id, int> count_by_id;
  std::map<std::string, int> count_by_node;
  std::vector<task_result> all;

  explicit result_summary(std::vector<task_result> results) : all(std::move(results)) {
    for (auto& r : all) {
      ++count_by_id[r.id];
      ++count_by_node[r.node];
    }
  }

  bool each_id_once() const {
    for (auto& [id, n] : count_by_id)
      if (n != 1)
        return false;
    return true;
  }
};

} // namespace gasched::testing
