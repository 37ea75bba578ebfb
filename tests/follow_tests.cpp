// Following the active scheduler among several addresses: real node
// processes started with --join A,B,... attach to the one that takes them,
// follow a standby's word to the active one, and find a new scheduler on
// another listed address after theirs was killed with kill -9.
#include "cluster_support.hpp"
#include "held_port.hpp"
#include "tcp_proxy.hpp"

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <regex>

#include "wire.hpp"

using namespace gasched;
using namespace gasched::testing;

namespace {

std::vector<task_result> run_tasks(process_cluster& c, const gasched::scheduler_actor& sched,
                                   int32_t n) {
  for (int32_t id = 1; id <= n; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{1})));
  return c.results(static_cast<size_t>(n), 30s);
}

std::string local(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// A scheduler that is a standby, as far as nodes and clients can tell: it
// refuses joins with errc::standby naming `active`, reports role "standby"
// in its stats; with `accept_first`, it takes the first join and then tells
// that node it stepped down (standby_atom), as a scheduler that loses its
// lease does.
// Ends a test actor however the test ends: a failed REQUIRE would otherwise
// leave it alive and the actor system's destructor waiting for it forever.
struct exit_on_scope_end {
  caf::actor who;
  ~exit_on_scope_end() {
    caf::anon_send_exit(who, caf::exit_reason::user_shutdown);
  }
};

struct fake_standby_state {
  std::string active;
  bool accept_first = false;
  std::shared_ptr<std::promise<void>> joined;
  std::shared_ptr<std::atomic<int>> refusals;  // counted when given
};

caf::behavior fake_standby(caf::stateful_actor<fake_standby_state>* self, std::string active,
                           bool accept_first, std::shared_ptr<std::promise<void>> joined,
                           std::shared_ptr<std::atomic<int>> refusals) {
  self->state.active = std::move(active);
  self->state.accept_first = accept_first;
  self->state.joined = std::move(joined);
  self->state.refusals = std::move(refusals);
  return {
    // Nodes join with the leases they hold (detail::lease_list); this one
    // holds none to adopt.
    [self](join_atom, const detail::node_info&,
           const detail::lease_list&) -> caf::result<detail::lease_list> {
      auto& st = self->state;
      if (!st.accept_first) {
        if (st.refusals)
          ++*st.refusals;
        return make_standby_error("a test standby", st.active);
      }
      st.accept_first = false;
      auto node = caf::actor_cast<caf::actor>(self->current_sender());
      st.joined->set_value();
      // Steps down a moment after taking it (after the answer arrived).
      self->delayed_send(self, std::chrono::milliseconds(50), standby_atom::value, node);
      return detail::lease_list{};
    },
    [self](standby_atom, const caf::actor& node) {
      self->send(node, standby_atom::value, self->state.active);
    },
    [self](stats_atom) {
      stats s;
      s.role = "standby";
      s.active = self->state.active;
      return s;
    },
  };
}

// The descriptors process `pid` holds open.
size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// Whether `done` holds within `limit`, polled every 20 ms.
template <class Pred>
bool holds_within(std::chrono::milliseconds limit, Pred done) {
  for (auto until = std::chrono::steady_clock::now() + limit; !done();) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

} // namespace

TEST_CASE("follow: a node joined with --join A,B attaches to B when A refuses connections",
          "[cluster][follow]") {
  process_cluster c;
  held_port closed{false};  // connections refused
  auto sched = c.scheduler(c.options({}));
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto argv = c.node_argv({"--join", local(closed.port) + "," + local(*port), "--name", "j1"});
  auto node = tools::child_process::start(argv, std::getenv("GASCHED_LOG") == nullptr);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; }));
  result_summary summary{run_tasks(c, sched, 20)};
  CHECK(summary.each_id_once());
  CHECK(summary.count_by_node["j1"] == 20);
}

TEST_CASE("follow: a standby's refusal names the active scheduler, and the node joins it "
          "though it is not in its list", "[cluster][follow]") {
  process_cluster c;
  auto sched = c.scheduler(c.options({}));
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto standby = c.sys().spawn(fake_standby, local(*port), false,
                               std::make_shared<std::promise<void>>(), nullptr);
  exit_on_scope_end standby_guard{standby};
  auto standby_port = publish(c.sys(), standby, 0);
  REQUIRE(standby_port);
  auto argv = c.node_argv({"--join", local(*standby_port), "--name", "j1"});
  auto node = tools::child_process::start(argv, std::getenv("GASCHED_LOG") == nullptr);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; }));
}

// What the soak sees with standbys: a node searching for the active
// scheduler keeps its connection to a standby that refused it, one per
// address, and reuses it at its next search: many refusals, one connection,
// no descriptor more.
TEST_CASE("follow: a node refused by a standby again and again keeps one connection to it, "
          "reused", "[cluster][follow]") {
  process_cluster c;
  held_port closed{false};  // the active it names is down: the node searches on
  auto refusals = std::make_shared<std::atomic<int>>(0);
  auto standby = c.sys().spawn(fake_standby, local(closed.port), false,
                               std::make_shared<std::promise<void>>(), refusals);
  exit_on_scope_end standby_guard{standby};
  auto standby_port = publish(c.sys(), standby, 0);
  REQUIRE(standby_port);
  tcp_proxy proxy{*standby_port};  // counts the node's connections to the standby
  auto argv = c.node_argv({"--join", local(proxy.port()), "--name", "j1"});
  auto node = tools::child_process::start(argv, std::getenv("GASCHED_LOG") == nullptr);
  auto refused = [&](int n) {
    return holds_within(std::chrono::seconds(60), [&] { return refusals->load() >= n; });
  };
  REQUIRE(refused(3));
  // An attempt on the closed port holds a socket for milliseconds: the
  // fewest seen over half a second is the count between attempts.
  auto between_attempts = [&] {
    auto fewest = open_descriptors(node.pid());
    for (int i = 0; i < 25; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      fewest = std::min(fewest, open_descriptors(node.pid()));
    }
    return fewest;
  };
  auto baseline = between_attempts();
  REQUIRE(refused(refusals->load() + 8));  // one connection each would show as 8 more
  CHECK(between_attempts() == baseline);
  CHECK(proxy.connections_accepted() == 1);
}

TEST_CASE("follow: a node whose scheduler steps down (standby_atom) joins the active one it "
          "names", "[cluster][follow]") {
  process_cluster c;
  auto sched = c.scheduler(c.options({}));
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto joined = std::make_shared<std::promise<void>>();
  auto first_join = joined->get_future();
  auto stepping_down = c.sys().spawn(fake_standby, local(*port), true, joined, nullptr);
  exit_on_scope_end stepping_down_guard{stepping_down};
  auto fake_port = publish(c.sys(), stepping_down, 0);
  REQUIRE(fake_port);
  auto argv = c.node_argv({"--join", local(*fake_port), "--name", "j1"});
  auto node = tools::child_process::start(argv, std::getenv("GASCHED_LOG") == nullptr);
  REQUIRE(first_join.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; }));
  CHECK(result_summary{run_tasks(c, sched, 20)}.count_by_node["j1"] == 20);
}

TEST_CASE("follow: nodes of a scheduler killed with kill -9 join a new one started on another "
          "listed address, and every task ends once", "[cluster][follow][journal]") {
  char name[] = "/tmp/gasched-follow-XXXXXX";
  std::filesystem::path dir = mkdtemp(name);
  auto journal = (dir / "sched.db").string();
  auto out = (dir / "results.txt").string();
  const int n = 2000;
  auto start = [&](uint16_t port) {
    auto p = tools::child_process::start({GASCHED_TEST_SCHEDULER_PROGRAM, journal,
                                          std::to_string(port), out, std::to_string(n), "5"},
                                         std::getenv("GASCHED_LOG") == nullptr);
    auto line = p.read_line(std::chrono::seconds(20));
    REQUIRE(line);
    std::smatch m;
    REQUIRE(std::regex_match(*line, m, std::regex{"listening ([0-9]+) resumed ([0-9]+)"}));
    return std::make_pair(std::move(p), static_cast<uint16_t>(std::stoi(m[1].str())));
  };
  uint16_t second_port = 0;
  {
    held_port free_port{false};  // a port nothing listens on, freed for the second scheduler
    second_port = free_port.port;
  }
  auto [sched, first_port] = start(0);
  process_cluster c;
  auto joins = local(first_port) + "," + local(second_port);
  std::vector<tools::child_process> nodes;
  for (auto node_name : {"n1", "n2"}) {
    nodes.push_back(tools::child_process::start(c.node_argv({"--join", joins, "--name", node_name}),
                                                std::getenv("GASCHED_LOG") == nullptr));
    REQUIRE(nodes.back().read_line(std::chrono::seconds(20)));  // "... joining ..."
  }
  // Some results, then the kill: the nodes had joined the first scheduler.
  auto lines = [&] {
    std::ifstream in{out};
    return std::count(std::istreambuf_iterator<char>{in}, {}, '\n');
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (lines() < 50 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(lines() >= 50);
  sched.kill();
  auto second = start(second_port).first;
  auto done = second.read_line(std::chrono::seconds(90));
  REQUIRE(done);
  CHECK(*done == "done");
  REQUIRE(second.wait_exit(std::chrono::seconds(20)) == 0);
  std::map<task_id, int> seen;
  std::ifstream in{out};
  for (std::string line; std::getline(in, line);)
    ++seen[std::stoull(line.substr(0, line.find(' ')))];
  CHECK(seen.size() == static_cast<size_t>(n));
  for (auto& [id, count] : seen) {
    INFO("task " << id);
    CHECK(count == 1);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("follow: connect_scheduler with a list skips a closed port and a standby, and "
          "returns the active one", "[cluster][follow]") {
  process_cluster c;
  auto sched = c.scheduler(c.options({}));
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto standby = c.sys().spawn(fake_standby, local(*port), false,
                               std::make_shared<std::promise<void>>(), nullptr);
  exit_on_scope_end standby_guard{standby};
  auto standby_port = publish(c.sys(), standby, 0);
  REQUIRE(standby_port);
  held_port closed{false};
  address found;
  auto got = connect_scheduler(c.sys(),
                               {address{"127.0.0.1", closed.port},
                                address{"127.0.0.1", *standby_port}},
                               {}, &found);
  REQUIRE(got);
  CHECK(found.port == *port);
  CHECK(caf::actor_cast<caf::actor_addr>(*got) == caf::actor_cast<caf::actor_addr>(sched));
  active_search_options quick;
  quick.give_up = std::chrono::milliseconds(300);
  auto none = connect_scheduler(c.sys(), {address{"127.0.0.1", closed.port}}, quick);
  REQUIRE(!none);
  CHECK(is(none.error(), errc::network_error));
  CHECK_THAT(describe(none.error()), Catch::Contains("no active scheduler"));
}

TEST_CASE("parse_addresses takes A,B,C and names what is not an address", "[cluster][address]") {
  auto list = parse_addresses("a:1,127.0.0.1:80");
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK(to_string((*list)[1]) == "127.0.0.1:80");
  std::string bad;
  CHECK(!parse_addresses("a:1,,b:2", &bad));
  CHECK(bad.empty());
  CHECK(!parse_addresses("a:1,b", &bad));
  CHECK(bad == "b");
  CHECK(standby_active(make_standby_error("x", "h:9"))->port == 9);
  CHECK(!standby_active(make_error(errc::not_allowed, "h:9")));
}
