// What the in-process actor tests share: an actor system set up as a user
// would (gasched::init), nodes, a client, and bounded waits.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "example_tasks.hpp"
#include "gasched/gasched.hpp"

// Catch prints an exit reason or error in CAF's words.
namespace Catch {
template <>
struct StringMaker<caf::error> {
  static std::string convert(const caf::error& e) {
    return caf::to_string(e);
  }
};
} // namespace Catch

namespace gasched::testing {

using namespace std::chrono_literals;

/// The folder of TLS identities when the suite runs over TLS
/// (GASCHED_TEST_TLS_DIR, made by gasched-certs with members "test" and
/// "node"); empty when it runs in plain text.
inline std::string test_tls_dir() {
  auto dir = std::getenv("GASCHED_TEST_TLS_DIR");
  return dir != nullptr ? dir : "";
}

/// This process's TLS identity under test_tls_dir(), or none.
inline tls_options test_tls() {
  auto dir = test_tls_dir();
  return dir.empty() ? tls_options{} : tls_options::from_dir(dir + "/test");
}

struct actor_config : caf::actor_system_config {
  explicit actor_config(size_t threads = 0, const tls_options& tls = test_tls()) {
    if (auto err = gasched::init(*this, {}, tls))
      throw std::runtime_error(describe(err));
    if (threads > 0)
      set("scheduler.max-threads", threads);
  }
};

/// One actor system with a client (a scoped actor) and helpers; nodes and
/// schedulers it spawned are stopped when it ends.
class cluster {
public:
  explicit cluster(size_t threads = 0, const tls_options& tls = test_tls())
    : cfg_(threads, tls), sys_(cfg_), self_(sys_) {
    examples::add_to(reg_);
  }

  ~cluster() {
    for (auto& s : schedulers_)
      self_->send_exit(s, caf::exit_reason::user_shutdown);
    for (auto& n : nodes_)
      self_->send_exit(n, caf::exit_reason::user_shutdown);
  }

  caf::actor_system& sys() {
    return sys_;
  }

  caf::scoped_actor& self() {
    return self_;
  }

  registry& reg() {
    return reg_;
  }

  caf::actor node(std::string name, uint32_t slots = 0) {
    node_options opts;
    opts.name = std::move(name);
    opts.slots = slots;
    return node(std::move(opts));
  }

  caf::actor node(node_options opts) {
    nodes_.push_back(spawn_node(sys_, reg_, opts));
    return nodes_.back();
  }

  std::vector<caf::actor> nodes(size_t n, const std::string& prefix = "n") {
    std::vector<caf::actor> result;
    for (size_t i = 1; i <= n; ++i)
      result.push_back(node(prefix + std::to_string(i)));
    return result;
  }

  /// gascheduler's test setup: max_workers 10, max_retries 10, no retry
  /// pause, and a node holds only what it runs (prefetch 0), so that
  /// stats.running is what runs.
  scheduler_options options(std::vector<caf::actor> nodes) {
    scheduler_options opts;
    opts.name = "test";
    opts.nodes = std::move(nodes);
    opts.client = self_;
    opts.max_workers = 10;
    opts.max_retries = 10;
    opts.retry_timeout = std::chrono::milliseconds(0);
    opts.prefetch = 0;
    return opts;
  }

  gasched::scheduler_actor scheduler(scheduler_options opts) {
    auto s = spawn_scheduler(sys_, std::move(opts));
    if (!s)
      FAIL("spawn_scheduler: " << describe(s.error()));
    schedulers_.push_back(*s);
    return *s;
  }

  /// Sends a request and waits for its answer (or an error) up to `timeout`.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& whom, Ts&&... xs) {
    caf::expected<T> result{caf::error{}};
    self_->request(whom, 10s, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& e) { result = std::move(e); });
    return result;
  }

  task_id execute(const gasched::scheduler_actor& sched, task t) {
    auto id = ask<task_id>(sched, execute_atom::value, std::move(t));
    REQUIRE(id);
    return *id;
  }

  stats get_stats(const gasched::scheduler_actor& sched) {
    auto s = ask<stats>(sched, stats_atom::value);
    REQUIRE(s);
    return *s;
  }

  /// The next `n` results sent to the client, each within `timeout`.
  std::vector<task_result> results(size_t n, caf::timespan timeout = 10s) {
    std::vector<task_result> result;
    bool timed_out = false;
    self_->receive_while([&] { return result.size() < n && !timed_out; })(
      [&](task_result& r) { result.push_back(std::move(r)); },
      caf::after(timeout) >> [&] { timed_out = true; });
    if (timed_out)
      FAIL("got " << result.size() << " of " << n << " results in time");
    return result;
  }

  /// Whether no result reaches `client` (this one by default) before a
  /// marker task's, submitted last to `sched`: the marker's result comes
  /// the way the others came (node, scheduler, client), so a result the
  /// scheduler sent before it is in the mailbox by then, however late it
  /// was; a quiet spell could miss it. The marker is hello.world(-1) on any
  /// node: one of them must be up. Results that did arrive are reported.
  bool no_more_results(const gasched::scheduler_actor& sched, caf::blocking_actor* client = nullptr,
                       caf::timespan timeout = 30s) {
    auto& to = client != nullptr ? *client : *self_;
    auto marker = execute(sched, task{"hello.world", caf::make_message(int32_t{-1}), 0});
    std::vector<task_id> others;
    bool seen = false;
    bool timed_out = false;
    auto collect = [&](task_result& r) {
      if (r.id == marker)
        seen = true;
      else
        others.push_back(r.id);
    };
    to.receive_while([&] { return !seen && !timed_out; })(
      collect, caf::after(timeout) >> [&] { timed_out = true; });
    if (!seen)
      FAIL("the marker task's result did not arrive within the timeout");
    for (bool more = true; more;)  // and none is queued behind it
      to.receive(collect, caf::after(caf::timespan{0}) >> [&] { more = false; });
    if (others.empty())
      return true;
    std::string ids;
    for (auto id : others)
      ids += " " + std::to_string(id);
    UNSCOPED_INFO("results besides the marker's, of tasks:" << ids);
    return false;
  }

  /// Waits until `pred(stats)` holds, asking again after each answer; false
  /// when it does not hold within `timeout`.
  bool wait_for_stats(const gasched::scheduler_actor& sched, std::function<bool(const stats&)> pred,
                      caf::timespan timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(get_stats(sched)))
        return true;
      // Stats change by messages this client cannot see; asking again at
      // once would keep a core busy that the scheduler and nodes need.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  /// Waits for `whom` to terminate; its exit reason (sec::request_timeout
  /// when it did not end within `timeout`; none for a normal end).
  template <class Handle>
  caf::error wait_down(const Handle& whom, caf::timespan timeout = 10s) {
    self_->monitor(whom);
    caf::error reason = caf::sec::request_timeout;
    self_->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                   caf::after(timeout) >> [] {});
    return reason;
  }

private:
  actor_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  registry reg_;
  std::vector<caf::actor> nodes_;
  std::vector<gasched::scheduler_actor> schedulers_;
};

/// gascheduler's execute_tasks assertions on stats after every task ended:
/// `ticks` ticks, nothing pending or running, max_workers and max_retries 10,
/// and exactly `nodes` (sorted by name), each running nothing.
inline void check_idle_stats(const stats& s, uint64_t ticks,
                             const std::vector<std::string>& nodes) {
  CHECK(s.ticks == ticks);
  CHECK(s.pending == 0);
  CHECK(s.running == 0);
  CHECK(s.max_workers == 10);
  CHECK(s.max_retries == 10);
  CHECK(s.worker_node_count == nodes.size());
  REQUIRE(s.worker_nodes.size() == nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    CHECK(s.worker_nodes[i].node == nodes[i]);
    CHECK(s.worker_nodes[i].running == 0);
  }
}

inline task make_task(std::string fn, caf::message args = {}, int32_t priority = 0) {
  return task{std::move(fn), std::move(args), priority};
}

} // namespace gasched::testing
