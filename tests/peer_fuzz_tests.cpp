// A stranger's messages, fuzzed: a peer that reaches the port of a published
// scheduler or node sends it thousands of random messages (gasched-test-peer
// fuzz:SEED:COUNT), well-typed ones with random fields and malformed ones,
// while the cluster runs a client's tasks. Afterwards nothing has crashed or
// hung, the state is the client's, and a workload comes back exact.
#include "cluster_support.hpp"
#include "wire.hpp"

#include <set>
#include <sstream>

using namespace gasched;
using namespace gasched::testing;

namespace {

// Seeds run at once, each its own peer process: a few thousand messages.
// GASCHED_FUZZ_SEEDS="4 5 6" and GASCHED_FUZZ_COUNT=N explore others.
std::vector<uint64_t> fuzz_seeds() {
  std::vector<uint64_t> seeds{1, 2, 3};
  if (auto text = std::getenv("GASCHED_FUZZ_SEEDS")) {
    seeds.clear();
    std::istringstream in{text};
    for (uint64_t seed; in >> seed;)
      seeds.push_back(seed);
  }
  return seeds;
}

size_t fuzz_count() {
  auto text = std::getenv("GASCHED_FUZZ_COUNT");
  return text != nullptr ? std::stoull(text) : 1000;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// Starts gasched-test-peer sending fuzz:SEED:COUNT:TARGET[:OTHER] to the
// actor published at 127.0.0.1:port. Over TLS it holds the "node" identity:
// a member that misbehaves, since strangers cannot connect at all.
tools::child_process start_fuzz(uint16_t port, uint64_t seed, const std::string& target,
                                uint16_t other_port = 0) {
  std::vector<std::string> argv{GASCHED_TEST_PEER_PROGRAM};
  if (!test_tls_dir().empty()) {
    argv.push_back("--tls");
    argv.push_back(test_tls_dir() + "/node");
  }
  auto plan = "fuzz:" + std::to_string(seed) + ":" + std::to_string(fuzz_count()) + ":" + target;
  if (other_port != 0)
    plan += ":" + std::to_string(other_port);
  for (auto arg : {std::string{"127.0.0.1"}, std::to_string(port), plan})
    argv.push_back(arg);
  return tools::child_process::start(argv, std::getenv("GASCHED_LOG") == nullptr);
}

// Runs one fuzzing peer per seed at once and waits for each to finish: it
// printed its summary ("fuzz sent N ... answered M ...") and exited 0. The
// total of answered requests, which shows that the messages got there.
size_t fuzz_all(uint16_t port, const std::string& target, uint16_t other_port = 0) {
  auto seeds = fuzz_seeds();
  std::vector<tools::child_process> peers;
  for (auto seed : seeds)
    peers.push_back(start_fuzz(port, seed, target, other_port));
  size_t answered = 0;
  for (size_t i = 0; i < peers.size(); ++i) {
    INFO("seed " << seeds[i] << " (GASCHED_FUZZ_VERBOSE=1 lists its messages)");
    auto line = peers[i].read_line(std::chrono::seconds(40));
    REQUIRE(line);
    INFO(*line);
    REQUIRE(starts_with(*line, "fuzz sent " + std::to_string(fuzz_count()) + " "));
    auto status = peers[i].wait_exit(std::chrono::seconds(10));
    REQUIRE(status);
    CHECK(tools::describe_exit(*status) == tools::describe_exit(0));
    auto at = line->find(" answered ");
    REQUIRE(at != std::string::npos);
    answered += std::stoull(line->substr(at + 10));
  }
  return answered;
}

// test.sleep(i, ms) for i = 1..n, each its own request; their ids.
std::set<task_id> sleepers(process_cluster& c, const gasched::scheduler_actor& sched, int32_t n,
                           int32_t ms) {
  std::set<task_id> ids;
  for (int32_t i = 1; i <= n; ++i)
    ids.insert(c.execute(sched, make_task("test.sleep", caf::make_message(i, ms))));
  return ids;
}

// Results until each of `ids` has one (within `timeout` in all): those,
// checked to come once each; any other result goes to `others`.
std::map<task_id, task_result> results_for(process_cluster& c, const std::set<task_id>& ids,
                                           std::vector<task_result>& others,
                                           caf::timespan timeout = std::chrono::seconds(30)) {
  std::map<task_id, task_result> got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto in_time = [&] { return std::chrono::steady_clock::now() < deadline; };
  c.self()->receive_while([&] { return got.size() < ids.size() && in_time(); })(
    [&](task_result& r) {
      if (ids.count(r.id) == 0)
        others.push_back(std::move(r));
      else
        CHECK(got.emplace(r.id, std::move(r)).second);  // never twice
    },
    caf::after(std::chrono::milliseconds(100)) >> [] {});
  if (got.size() < ids.size())
    FAIL("got " << got.size() << " of " << ids.size() << " results in time");
  return got;
}

// Results already in the mailbox.
void drain(process_cluster& c, std::vector<task_result>& into) {
  bool more = true;
  while (more)
    c.self()->receive([&](task_result& r) { into.push_back(std::move(r)); },
                      caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
}

// 500 test.identity tasks in one batch: every id once, every value its
// argument, each run on one of `nodes`.
void check_identity_workload(process_cluster& c, const gasched::scheduler_actor& sched,
                             const std::set<std::string>& nodes) {
  std::vector<task> batch;
  for (int32_t i = 0; i < 500; ++i)
    batch.push_back(make_task("test.identity", caf::make_message(i)));
  auto ids = c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(batch));
  REQUIRE(ids);
  REQUIRE(ids->size() == 500);
  std::vector<task_result> others;
  auto got = results_for(c, {ids->begin(), ids->end()}, others);
  CHECK(others.empty());
  REQUIRE(got.size() == 500);
  for (size_t i = 0; i < ids->size(); ++i) {
    auto& r = got.at((*ids)[i]);
    REQUIRE(r.ok());
    REQUIRE(r.value.match_elements<int32_t>());
    CHECK(r.value.get_as<int32_t>(0) == static_cast<int32_t>(i));
    CHECK(nodes.count(r.node) == 1);
  }
  CHECK(c.no_more_results(sched));
}

// Each of `results` is test.sleep(i, ms) that returned i, from one of `nodes`.
void check_sleepers(const std::map<task_id, task_result>& results,
                    const std::set<std::string>& nodes) {
  for (auto& [id, r] : results) {
    INFO("task " << id << ": " << (r.ok() ? caf::to_string(r.value) : describe(r.error)));
    REQUIRE(r.ok());
    CHECK(r.task.function == "test.sleep");
    REQUIRE(r.value.match_elements<int32_t>());
    CHECK(r.value.get_as<int32_t>(0) == r.task.args.get_as<int32_t>(0));
    CHECK(nodes.count(r.node) == 1);
  }
}

// The tasks still pending or running, one a line, for a failure message.
std::string unfinished_text(process_cluster& c, const gasched::scheduler_actor& sched) {
  std::string text;
  if (auto ts = c.ask<std::vector<task>>(sched, unfinished_atom::value))
    for (auto& t : *ts)
      text += t.function + caf::to_string(t.args) + "\n";
  return text;
}

} // namespace

TEST_CASE("fuzz: a published scheduler survives a stranger's random messages intact",
          "[security][fuzz]") {
  process_cluster c;
  auto sched = c.scheduler(c.options({}));
  auto port = c.publish_with_joined_nodes(sched, {"node1", "node2"});
  // One task per slot runs while the strangers send: forged results and
  // cancels aim at small ids and epochs, these tasks' own.
  auto mine = sleepers(c, sched, 20, 3000);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 20; }));
  CHECK(fuzz_all(port, "scheduler") > 0);
  // The client's tasks end as it submitted them: each once, its own value.
  std::vector<task_result> theirs;
  check_sleepers(results_for(c, mine, theirs), {"node1", "node2"});
  // The strangers' own tasks end too, each once; their joins ended with
  // their connections. Nothing is left that the client did not submit.
  auto settled = c.wait_for_stats(sched, [](const stats& s) {
    return s.pending == 0 && s.running == 0 && s.worker_node_count == 2;
  }, std::chrono::seconds(20));
  if (!settled)
    FAIL("still unfinished:\n" << unfinished_text(c, sched));
  drain(c, theirs);
  std::set<task_id> their_ids;
  for (auto& r : theirs)
    CHECK(their_ids.insert(r.id).second);
  auto s = c.get_stats(sched);
  REQUIRE(s.worker_nodes.size() == 2);
  CHECK(s.worker_nodes[0].node + " " + s.worker_nodes[1].node == "node1 node2");
  CHECK(s.max_workers == 10);
  CHECK(s.max_retries == 10);
  auto left = c.ask<std::vector<task>>(sched, unfinished_atom::value);
  REQUIRE(left);
  CHECK(left->empty());
  check_identity_workload(c, sched, {"node1", "node2"});
  CHECK(c.ask<caf::ok_atom>(sched, stop_atom::value));  // ok: nothing pending or running
}

TEST_CASE("fuzz: a node survives a stranger's random orders and serves its scheduler exactly",
          "[security][fuzz]") {
  process_cluster c;
  auto sched = c.scheduler(c.options({}));
  auto sched_port = publish(c.sys(), sched, 0);
  REQUIRE(sched_port);
  // Published, so strangers reach it, and joined to our scheduler.
  auto node = tools::child_process::start(
    c.node_argv({"--port", "0", "--join", "127.0.0.1:" + std::to_string(*sched_port), "--name",
                 "fuzzed"}),
    std::getenv("GASCHED_LOG") == nullptr);
  auto listening = node.read_line(std::chrono::seconds(20));
  REQUIRE(listening);  // "gasched-node fuzzed listening on HOST:PORT"
  auto node_port = static_cast<uint16_t>(std::stoi(listening->substr(listening->rfind(':') + 1)));
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; }));
  auto mine = sleepers(c, sched, 10, 3000);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.running == 10; }));
  // The strangers also know the scheduler's address: forged exits and down
  // notices may name it.
  CHECK(fuzz_all(node_port, "node", *sched_port) > 0);
  CHECK_FALSE(node.wait_exit(std::chrono::milliseconds(0)));  // still running
  // Its scheduler's tasks were neither cancelled nor answered by anyone else.
  std::vector<task_result> others;
  check_sleepers(results_for(c, mine, others), {"fuzzed"});
  CHECK(others.empty());
  auto s = c.get_stats(sched);
  CHECK(s.worker_node_count == 1);
  CHECK(s.node_losses == 0);
  check_identity_workload(c, sched, {"fuzzed"});
  // Still published, and still itself.
  auto handle = connect(c.sys(), "127.0.0.1", node_port);
  REQUIRE(handle);
  auto info = c.ask<detail::node_info>(*handle, hello_atom::value);
  REQUIRE(info);
  CHECK(info->name == "fuzzed");
  CHECK(c.ask<caf::ok_atom>(sched, stop_atom::value));
}
