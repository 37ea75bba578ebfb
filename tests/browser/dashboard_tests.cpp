// The dashboard in a real browser: Debian's chromium, headless, loads the
// page of a running scheduler with nodes; the test reads the DOM it dumps.
//
// Chromium runs the page in virtual time (--virtual-time-budget), which
// stands still while a request is open. A proxy between the endpoint and
// the scheduler holds the page's second poll until more tasks have finished,
// so within one page load the first poll sees the first run and the later
// polls the second: the page must update itself, without a reload.
#include <deque>
#include <filesystem>
#include <map>
#include <regex>

#include "actor_support.hpp"
#include "browser/http_support.hpp"

using namespace gasched;
using namespace gasched::testing;

namespace {

using held_atom = caf::atom_constant<caf::atom("held")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

struct proxy_state {
  int polls = 0;
  caf::response_promise held;
};

// Answers stats_atom from `sched`; tells `watcher` when it holds the
// second request, and answers it on release_atom.
caf::behavior stats_proxy(caf::stateful_actor<proxy_state>* self, gasched::scheduler_actor sched,
                          caf::actor watcher) {
  return {
    [=](stats_atom) {
      auto rp = self->make_response_promise();
      if (++self->state.polls == 2) {
        self->state.held = rp;
        self->send(watcher, held_atom::value);
      } else {
        rp.delegate(sched, stats_atom::value);
      }
      return rp;
    },
    [=](release_atom) { self->state.held.delegate(sched, stats_atom::value); },
  };
}

void run_hello(cluster& c, const gasched::scheduler_actor& sched, int32_t n) {
  for (int32_t i = 0; i < n; ++i)
    c.execute(sched, make_task("hello.world", caf::make_message(i)));
  c.results(static_cast<size_t>(n));
}

// A fresh browser profile, removed at the end.
struct profile_dir {
  profile_dir() {
    auto pattern = (std::filesystem::temp_directory_path() / "gasched-chromium-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~profile_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

// The command line the brief of the dashboard test gives: headless, no
// network of its own, the DOM on stdout once `budget_ms` of virtual time ran.
std::vector<std::string> chromium_dump(const std::string& url, const profile_dir& profile,
                                       int budget_ms) {
  return {find_program("chromium", "chromium"), "--headless", "--no-sandbox", "--disable-gpu",
          "--disable-quic", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile.path,
          "--virtual-time-budget=" + std::to_string(budget_ms), "--dump-dom", url};
}

// The data-value of the element with this id.
double value_of(const std::string& dom, const std::string& id) {
  std::smatch m;
  std::regex re{"id=\"" + id + "\"[^>]*data-value=\"([0-9.]+)\""};
  if (!std::regex_search(dom, m, re))
    FAIL("no value for #" << id << " in the page");
  return std::stod(m[1]);
}

struct node_row {
  int64_t running = -1;
  int64_t slots = -1;
};

std::map<std::string, node_row> node_rows(const std::string& dom) {
  std::map<std::string, node_row> rows;
  std::regex re{"data-node=\"([^\"]+)\" data-running=\"([0-9]+)\" data-slots=\"([0-9]+)\""};
  for (std::sregex_iterator i{dom.begin(), dom.end(), re}, end; i != end; ++i)
    rows[(*i)[1]] = node_row{std::stoll((*i)[2]), std::stoll((*i)[3])};
  return rows;
}

} // namespace

TEST_CASE("the dashboard in chromium shows the nodes and figures and updates itself",
          "[http][browser]") {
  cluster c;
  auto sched = c.scheduler(c.options(c.nodes(2, "node-")));
  run_hello(c, sched, 12);
  auto proxy = c.sys().spawn(stats_proxy, sched, caf::actor{c.self()});
  // The proxy stands in for the scheduler: it answers the requests the endpoint sends.
  auto srv = serve_http(c.sys(), caf::actor_cast<scheduler_actor>(proxy), "127.0.0.1", 0);
  REQUIRE(srv);

  // Polls at virtual 0, 1, 2 and 3 s: the second waits for 8 more tasks.
  profile_dir profile;
  auto argv = chromium_dump(srv->url(), profile, 3500);
  auto browser = tools::child_process::start(argv, true);
  bool held = false;
  c.self()->receive([&](held_atom) { held = true; }, caf::after(60s) >> [] {});
  REQUIRE(held);
  run_hello(c, sched, 8);
  c.self()->send(proxy, release_atom::value);
  std::string dom;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (auto line = browser.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
           deadline - std::chrono::steady_clock::now())))
    dom += *line + "\n";
  REQUIRE(browser.wait_exit(10s));
  INFO("the page chromium dumped:\n" << dom);

  auto s = c.get_stats(sched);
  REQUIRE(s.succeeded == 20);
  CHECK(value_of(dom, "succeeded") == 20);
  CHECK(value_of(dom, "failed") == 0);
  CHECK(value_of(dom, "pending") == 0);
  CHECK(value_of(dom, "running") == 0);
  CHECK(value_of(dom, "nodes") == 2);
  CHECK(value_of(dom, "slots") == 20);
  auto rows = node_rows(dom);
  REQUIRE(rows.size() == 2);
  for (auto& n : s.worker_nodes) {
    INFO(n.node);
    CHECK(rows[n.node].running == n.running);
    CHECK(rows[n.node].slots == n.slots);
  }
  // One page load that polled three times or more, and saw the count grow
  // from 12 to 20 (a throughput above 0 needs two different counts).
  std::smatch polls;
  REQUIRE(std::regex_search(dom, polls, std::regex{"data-polls=\"([0-9]+)\""}));
  CHECK(std::stoi(polls[1]) >= 3);
  CHECK(value_of(dom, "throughput") > 0);
  CHECK(dom.find("joined") != std::string::npos);  // the node events
  // No shared journal: the scheduler is alone (no generation, no standbys).
  CHECK(dom.find("data-role=\"alone\">role alone</span>") != std::string::npos);
  c.self()->send_exit(proxy, caf::exit_reason::user_shutdown);
}

namespace {

using pace_atom = caf::atom_constant<caf::atom("pace")>;

struct pacer_state {
  std::deque<caf::response_promise> waiting;
};

// Answers each stats request `delay` late, so that a page in virtual time
// polls at a pace real work can be seen at.
caf::behavior pacing_proxy(caf::stateful_actor<pacer_state>* self, gasched::scheduler_actor sched,
                           caf::timespan delay) {
  return {
    [=](stats_atom) {
      self->state.waiting.push_back(self->make_response_promise());
      self->delayed_send(self, delay, pace_atom::value);
      return self->state.waiting.back();
    },
    [=](pace_atom) {
      self->state.waiting.front().delegate(sched, stats_atom::value);
      self->state.waiting.pop_front();
    },
  };
}

} // namespace

// Not a test: makes docs/dashboard.png from a busy run with a node lost and
// back. GASCHED_SCREENSHOT=docs/dashboard.png gasched_http_tests "[.screenshot]"
TEST_CASE("dashboard screenshot of a busy run", "[.screenshot]") {
  const char* out = std::getenv("GASCHED_SCREENSHOT");
  REQUIRE(out != nullptr);
  cluster c;
  auto a = c.node("node-a", 4);
  auto b = c.node("node-b", 6);
  auto opts = c.options({a, b, c.node("node-c", 8)});
  opts.max_retries = 3;
  auto sched = c.scheduler(opts);
  std::vector<task> tasks;
  for (int32_t i = 0; i < 1500; ++i)
    tasks.push_back(i % 75 == 0 ? make_task(i % 2 ? "test.fail" : "test.permanent")
                                : make_task("test.sleep",
                                            caf::make_message(i, int32_t{50 + (i * 37) % 350})));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, tasks));
  auto proxy = c.sys().spawn(pacing_proxy, sched, caf::timespan{std::chrono::milliseconds(150)});
  // The proxy stands in for the scheduler: it answers the requests the endpoint sends.
  auto srv = serve_http(c.sys(), caf::actor_cast<scheduler_actor>(proxy), "127.0.0.1", 0);
  REQUIRE(srv);
  profile_dir profile;
  auto argv = chromium_dump(srv->url(), profile, 70000);
  argv.pop_back();  // the URL
  argv.pop_back();  // --dump-dom
  for (auto arg : {"--hide-scrollbars", "--window-size=1280,800"})
    argv.push_back(arg);
  argv.push_back(std::string{"--screenshot="} + out);
  argv.push_back(srv->url());
  auto browser = tools::child_process::start(argv, true);
  std::this_thread::sleep_for(4s);  // staging the story, not waiting for an event
  c.self()->send_exit(b, caf::exit_reason::kill);
  std::this_thread::sleep_for(2s);
  auto back = c.node("node-b", 6);
  CHECK(c.ask<caf::ok_atom>(sched, add_node_atom::value, back));
  REQUIRE(browser.wait_exit(120s));
  c.self()->send_exit(proxy, caf::exit_reason::user_shutdown);
}
