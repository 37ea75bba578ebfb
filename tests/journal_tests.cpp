// The scheduler's journal (journal/sqlite_journal.hpp) with the core: what a
// restarted scheduler resumes from, the results it keeps, and every kind of
// bad file, each refused with a clear error and left as it was.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/make_message.hpp>
#include <csignal>
#include <linux/capability.h>
#include <sqlite3.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/scheduler_core.hpp"
#include "gasched/errc.hpp"
#include "journal/sqlite_db.hpp"
#include "journal/sqlite_journal.hpp"

using namespace gasched;
using namespace gasched::detail;

namespace {

// -- helpers -------------------------------------------------------------------

// A user's type, registered by name as README says.
struct point {
  int32_t x = 0;
  int32_t y = 0;
  std::string label;
};

bool operator==(const point& a, const point& b) {
  return a.x == b.x && a.y == b.y && a.label == b.label;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, point& p) {
  return f(caf::meta::type_name("test.point"), p.x, p.y, p.label);
}

// An actor system that knows test.point, or not.
struct test_system {
  explicit test_system(bool knows_point = true) : sys(setup(cfg, knows_point)) {
  }
  static caf::actor_system_config& setup(caf::actor_system_config& cfg, bool knows_point) {
    if (knows_point)
      cfg.add_message_type<point>("test.point");
    cfg.set("scheduler.max-threads", 1);
    return cfg;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
};

struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/gasched-journal-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const {
    return path + "/" + name;
  }
};

std::string contents(const std::string& file) {
  std::ifstream in{file, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

journal_options fast() {
  journal_options opts;
  opts.sync_every_commit = false;
  return opts;
}

std::unique_ptr<sqlite_journal> open_ok(caf::actor_system& sys, const std::string& path,
                                        journal_options opts = fast()) {
  auto j = sqlite_journal::open(sys, path, opts);
  if (!j)
    FAIL(describe(j.error()));
  return std::move(*j);
}

// Opening fails at once with journal_error naming the file and saying
// `what`, and the file is byte for byte what it was.
void check_refused(caf::actor_system& sys, const std::string& path, const std::string& what) {
  auto before = contents(path);
  auto start = std::chrono::steady_clock::now();
  auto j = sqlite_journal::open(sys, path, fast());
  REQUIRE_FALSE(j);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  auto text = describe(j.error());
  INFO(text);
  CHECK(is(j.error(), errc::journal_error));
  CHECK(text.find(path) != std::string::npos);
  CHECK(text.find(what) != std::string::npos);
  CHECK(contents(path) == before);
}

// A core on a journal, as the scheduler actor runs it.
struct journaled_core {
  std::unique_ptr<sqlite_journal> journal;
  scheduler_core core;

  journaled_core(caf::actor_system& sys, const std::string& path,
                 core_limits limits = core_limits{2, 0, 3})
    : journal(open_ok(sys, path)), core(limits) {
    REQUIRE_FALSE(core.restore(journal->take_snapshot()));
    core.set_journal(journal.get());
  }

  node_index add_node(const std::string& name, uint32_t slots = 0) {
    auto n = core.add_node(slots);
    journal->name_node(n, name);
    return n;
  }

  // (id, epoch) of each dispatch.
  std::vector<std::pair<task_id, uint32_t>> dispatch() {
    std::vector<std::pair<task_id, uint32_t>> out;
    core.dispatch([&](const dispatch_order& o) { out.emplace_back(o.id, o.epoch); });
    return out;
  }

  task_id enqueue(caf::message args, int32_t priority = 0, const std::string& fn = "f") {
    auto id = core.enqueue(fn, std::move(args), priority);
    REQUIRE(id);
    return *id;
  }

  void commit() {
    auto err = journal->commit();
    INFO(describe(err));
    REQUIRE_FALSE(err);
  }
};

std::vector<task_id> pending_ids(const scheduler_core& core) {
  std::vector<task_id> ids;
  core.for_each_unfinished(
    [&](task_id id, const std::string&, const caf::message&, int32_t) { ids.push_back(id); });
  ids.resize(core.pending());
  return ids;
}

caf::message int_args(int32_t i) {
  return caf::make_message(i);
}

using ids = std::vector<task_id>;

} // namespace

// -- the core's restore ------------------------------------------------------------

TEST_CASE("scheduler_core: restore takes over order, ids, counters and generation",
          "[journal][core]") {
  journal_snapshot s;
  s.generation = 3;
  s.next_id = 40;
  s.count.succeeded = 7;
  s.count.requeued = 2;
  s.functions = {"f", "g"};
  // Dispatch order: priority 5 (a requeued task, then a new one), then 0.
  s.pending.push_back(restored_task{12, 1, 5, 2, true, int_args(12)});
  s.pending.push_back(restored_task{30, 0, 5, 0, false, int_args(30)});
  s.pending.push_back(restored_task{9, 0, 0, 1, true, int_args(9)});
  s.pending.push_back(restored_task{5, 1, 0, 0, true, int_args(5)});
  s.pending.push_back(restored_task{31, 0, 0, 0, false, int_args(31)});
  scheduler_core core{core_limits{1, 0, 3}};
  REQUIRE_FALSE(core.restore(std::move(s)));
  CHECK(pending_ids(core) == ids{12, 30, 9, 5, 31});
  CHECK(core.count().succeeded == 7);
  CHECK(core.count().requeued == 2);
  CHECK(core.generation() == 3);
  CHECK(*core.enqueue("f", {}, 0) == 40);
  auto n = core.add_node(0);
  core.dispatch([&](const dispatch_order& o) {
    CHECK(o.id == 12);
    CHECK(o.epoch == epoch_base(3));
    CHECK(core.function_name(o.fn) == "g");
  });
  // Node deaths go on from the kept count: 12 had lost 2, the third ends it.
  auto ended = core.remove_node(n);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].node_failures == 3);
  SECTION("a core that accepted tasks cannot restore") {
    CHECK(core.restore(journal_snapshot{}));
  }
}

// -- round trips ---------------------------------------------------------------------

TEST_CASE("journal: ids, counters and tasks continue after a reopen", "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    CHECK(jc.core.generation() == 0);
    for (int32_t i = 0; i < 3; ++i)
      jc.enqueue(int_args(i));
    CHECK(jc.journal->durable_id() == 0);
    CHECK(jc.journal->dirty());
    CHECK(jc.journal->buffered() == 3);
    jc.commit();
    CHECK(jc.journal->durable_id() == 3);
    CHECK_FALSE(jc.journal->dirty());
    jc.enqueue(int_args(3));  // never committed: lost, and its id is issued again
  }
  journaled_core jc{ts.sys, path};
  CHECK(jc.core.generation() == 1);
  CHECK(jc.journal->durable_id() == 3);
  CHECK(pending_ids(jc.core) == ids{1, 2, 3});
  CHECK(jc.enqueue(int_args(4)) == 4);
}

// Another process of this test binary, for the tests that need a second
// process on the same journal. It is exec'd, not just forked: a fork of a
// process with threads (CAF's, and a sanitizer's) may deadlock in the child.
// The child runs the hidden test case below with GASCHED_JOURNAL_CHILD set to
// "MODE PATH FD"; the parent reads FD's other end.
pid_t start_child(const std::string& mode, const std::string& path, int fd) {
  auto spec = mode + " " + path + " " + std::to_string(fd);
  ::setenv("GASCHED_JOURNAL_CHILD", spec.c_str(), 1);
  auto pid = ::fork();
  if (pid == 0) {
    ::execl("/proc/self/exe", "gasched_core_tests", "[.journal_child]", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::unsetenv("GASCHED_JOURNAL_CHILD");
  return pid;
}

// The child's exit status, or -1 when it did not end within `timeout`.
int wait_child(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no event for a child's end
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("journal child process", "[.journal_child]") {
  std::istringstream spec{std::getenv("GASCHED_JOURNAL_CHILD") ? std::getenv("GASCHED_JOURNAL_CHILD") : ""};
  std::string mode, path;
  int fd = -1;
  spec >> mode >> path >> fd;
  test_system ts;
  auto j = sqlite_journal::open(ts.sys, path, fast());
  if (mode == "in_use")
    ::_exit(!j && describe(j.error()).find("in use") != std::string::npos ? 0 : 1);
  if (!j)
    ::_exit(1);
  for (task_id id = 1; id <= 3; ++id)
    (*j)->enqueued(id, "f", int_args(static_cast<int32_t>(id)), 0);
  (*j)->dispatched(2, 0, 0);
  if ((*j)->commit())
    ::_exit(1);
  (*j)->enqueued(4, "f", int_args(4), 0);  // not committed
  char c = 'x';
  static_cast<void>(::write(fd, &c, 1));
  ::pause();  // until killed
}

TEST_CASE("journal: what was committed survives a kill -9 of the process", "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  auto pid = start_child("commit", path, ready[1]);
  REQUIRE(pid > 0);
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  REQUIRE(::poll(&p, 1, 30000) == 1);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(ready[0]);
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{2, 1, 3});  // 2 was running: to the front
  CHECK(jc.core.count().requeued == 1);
  CHECK(jc.enqueue(int_args(4)) == 4);
}

TEST_CASE("journal: every record kind round-trips", "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path, core_limits{1, 0, 2}};
    auto a = jc.add_node("a");
    auto b = jc.add_node("b");
    jc.enqueue(int_args(1));                                        // 1: fails
    jc.enqueue(caf::make_message(std::string{"two"}), 5, "g");     // 2: succeeds
    jc.enqueue(caf::make_message(point{3, 4, "p"}));               // 3: quarantined
    jc.enqueue(caf::make_message(int64_t{4}, int32_t{-4}));        // 4: cancelled running
    jc.enqueue({}, 0, "h");                                        // 5: cancelled pending
    jc.enqueue(int_args(6));                                       // 6: running at the end
    REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{2, 0}, {1, 0}});
    REQUIRE(jc.core.complete(2, 0, caf::make_message(std::string{"done"}), caf::error{}));
    auto stored = jc.journal->result_of(2);  // not committed yet: from the buffer
    REQUIRE(stored);
    CHECK(stored->value.get_as<std::string>(0) == "done");
    REQUIRE(jc.dispatch().size() == 1);  // 3 on a
    REQUIRE(jc.core.complete(1, 0, {}, make_error(errc::max_retries, "boom")));
    REQUIRE(jc.dispatch().size() == 1);  // 4 on b
    REQUIRE(jc.core.cancel(5));
    CHECK(jc.core.remove_node(a).empty());  // 3 back, 1 node lost
    auto c = jc.add_node("c");
    REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{3, 1}});
    CHECK(jc.core.remove_node(c).size() == 1);  // 3 quarantined: 2 nodes lost
    REQUIRE(jc.core.cancel(4));
    REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{6, 0}});
    static_cast<void>(b);
    jc.commit();
  }
  journaled_core jc{ts.sys, path};
  auto& count = jc.core.count();
  CHECK(count.succeeded == 1);
  CHECK(count.failed == 1);
  CHECK(count.cancelled == 2);
  CHECK(count.quarantined == 1);
  CHECK(count.requeued == 2);  // 3 by a node's death, 6 by the restart
  CHECK(count.ticks == 6);
  CHECK(pending_ids(jc.core) == ids{6});
  auto result = [&](task_id id) {
    auto r = jc.journal->result_of(id);
    INFO("task " << id);
    REQUIRE(r);
    return std::move(*r);
  };
  auto r2 = result(2);
  CHECK((r2.how == outcome_kind::succeeded && r2.function == "g" && r2.priority == 5));
  CHECK((r2.node == "a" && r2.args.get_as<std::string>(0) == "two" && !r2.error));
  CHECK(r2.value.get_as<std::string>(0) == "done");
  auto r1 = result(1);
  CHECK((r1.how == outcome_kind::failed && r1.node == "b"));
  CHECK(describe(r1.error) == "gasched::max_retries: boom");
  auto r3 = result(3);
  CHECK((r3.how == outcome_kind::quarantined && r3.node == "c"));
  CHECK(r3.args.get_as<point>(0) == point{3, 4, "p"});
  CHECK(describe(r3.error) == "gasched::node_failures: 2 nodes died while running it");
  auto r4 = result(4);
  CHECK((r4.how == outcome_kind::cancelled && r4.node == "b" && is(r4.error, errc::cancelled)));
  CHECK((r4.args.get_as<int64_t>(0) == 4 && r4.args.get_as<int32_t>(1) == -4));
  auto r5 = result(5);
  CHECK((r5.how == outcome_kind::cancelled && r5.node.empty() && r5.function == "h"));
  auto t = result(2).to_result("sched");
  CHECK((t.ok() && t.scheduler == "sched" && t.id == 2 && t.task.function == "g"));
  CHECK(is(jc.journal->result_of(6).error(), errc::unknown_task));   // unfinished
  CHECK(is(jc.journal->result_of(99).error(), errc::unknown_task));  // never accepted
}

TEST_CASE("journal: a resumed core has the order, ids and counters it had, running "
          "tasks in front",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  std::vector<std::pair<task_id, int32_t>> before;  // running by id, then pending
  core_counters count;
  {
    journaled_core jc{ts.sys, path};
    const int32_t priorities[] = {0, 3, -1};
    for (int32_t i = 0; i < 20; ++i)
      jc.enqueue(int_args(i), priorities[i % 3]);
    auto n0 = jc.add_node("n0");
    jc.add_node("n1");
    jc.dispatch();                 // 4 running
    jc.core.remove_node(n0);       // 2 of them to the front
    jc.add_node("n2", 1);
    jc.dispatch();
    REQUIRE(jc.core.complete(5, 0, true));
    jc.dispatch();
    jc.enqueue(int_args(20), 3);
    jc.commit();
    jc.core.for_each_running([&](task_id id, node_index, uint32_t) {
      before.emplace_back(id, 0);
    });
    std::sort(before.begin(), before.end());
    jc.core.for_each_unfinished([&](task_id id, const std::string&, const caf::message&,
                                    int32_t prio) {
      auto it = std::find_if(before.begin(), before.end(),
                             [&](auto& x) { return x.first == id; });
      if (it != before.end())
        it->second = prio;
      else
        before.emplace_back(id, prio);
    });
    count = jc.core.count();
    count.requeued += jc.core.running();
    count.ticks += jc.core.running();
  }
  // Each priority: its running tasks in id order, then its pending in order.
  std::stable_sort(before.begin(), before.end(),
                   [](auto& a, auto& b) { return a.second > b.second; });
  ids expected;
  for (auto& x : before)
    expected.push_back(x.first);
  journaled_core jc{ts.sys, path, core_limits{100, 0, 3}};
  CHECK(pending_ids(jc.core) == expected);
  CHECK(jc.core.running() == 0);
  CHECK(jc.core.count().requeued == count.requeued);
  CHECK(jc.core.count().ticks == count.ticks);
  CHECK(jc.core.count().succeeded == count.succeeded);
  CHECK(jc.enqueue(int_args(21)) == 22);
  before.emplace_back(22, 0);
  std::stable_sort(before.begin(), before.end(),
                   [](auto& a, auto& b) { return a.second > b.second; });
  jc.add_node("n3");
  ids dispatched;
  for (auto& [id, epoch] : jc.dispatch()) {
    dispatched.push_back(id);
    CHECK(epoch == epoch_base(1));
  }
  REQUIRE(dispatched.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i)
    CHECK(dispatched[i] == before[i].first);
}

TEST_CASE("journal: leases of a run before a restart never count, even uncommitted ones",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    auto n = jc.add_node("n");
    jc.enqueue(int_args(1));
    jc.commit();
    REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{1, 0}});
    jc.core.remove_node(n);
    jc.add_node("m");
    jc.enqueue(int_args(2));
    auto orders = jc.dispatch();  // 1 under epoch 1, 2 under 0: none of it committed
    REQUIRE(orders == std::vector<std::pair<task_id, uint32_t>>{{1, 1}, {2, 0}});
  }  // the scheduler dies
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{1});
  CHECK(jc.enqueue(int_args(2)) == 2);  // an id issued before, never acknowledged
  jc.add_node("k");
  auto base = epoch_base(1);
  REQUIRE(jc.dispatch() == std::vector<std::pair<task_id, uint32_t>>{{1, base}, {2, base}});
  CHECK_FALSE(jc.core.complete(1, 0, true));
  CHECK_FALSE(jc.core.complete(1, 1, true));
  CHECK_FALSE(jc.core.complete(2, 0, true));
  CHECK(jc.core.count().late_results == 3);
  CHECK(jc.core.complete(1, base, true));
  CHECK(jc.core.complete(2, base, true));
}

TEST_CASE("journal: quarantine counts node deaths, not restarts", "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  for (int run = 0; run < 3; ++run) {  // dies running its task, twice
    journaled_core jc{ts.sys, path, core_limits{1, 0, 2}};
    if (run == 0) {
      jc.enqueue(int_args(1));
      auto n = jc.add_node("n");
      jc.dispatch();
      CHECK(jc.core.remove_node(n).empty());  // first node death
    }
    jc.add_node("m");
    REQUIRE(jc.dispatch().size() == 1);
    jc.commit();
  }
  journaled_core jc{ts.sys, path, core_limits{1, 0, 2}};
  auto n = jc.add_node("last");
  REQUIRE(jc.dispatch().size() == 1);
  auto ended = jc.core.remove_node(n);  // the second node death ends it
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].node_failures == 2);
  CHECK(jc.core.count().requeued == 4);  // one node death, three restarts
}

TEST_CASE("journal: results are kept for keep_results, then pruned", "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    jc.add_node("n");
    jc.enqueue(int_args(1));
    jc.dispatch();
    REQUIRE(jc.core.complete(1, 0, int_args(10), {}));
    jc.commit();
  }
  {
    auto j = open_ok(ts.sys, path);
    REQUIRE(j->result_of(1));
    CHECK(j->result_of(1)->value.get_as<int32_t>(0) == 10);
  }
  auto opts = fast();
  opts.keep_results = std::chrono::seconds(0);
  auto j = open_ok(ts.sys, path, opts);
  REQUIRE(j->result_of(1));  // not pruned before a commit
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE_FALSE(j->commit());
  CHECK(is(j->result_of(1).error(), errc::unknown_task));
}

TEST_CASE("journal: a registered user type round-trips", "[journal]") {
  temp_dir dir;
  auto path = dir.file("j.db");
  point p{-7, 8, "a label"};
  {
    test_system ts;
    journaled_core jc{ts.sys, path};
    jc.enqueue(caf::make_message(p, std::string{"x"}));
    jc.enqueue(caf::make_message(p));
    jc.add_node("n", 1);
    jc.dispatch();
    REQUIRE(jc.core.complete(1, 0, caf::make_message(point{1, 2, "result"}), {}));
    jc.commit();
  }
  SECTION("an actor system that knows the type reads it back") {
    test_system ts;
    journaled_core jc{ts.sys, path};
    auto r = jc.journal->result_of(1);
    REQUIRE(r);
    CHECK(r->args.match_elements<point, std::string>());
    CHECK(r->args.get_as<point>(0) == p);
    CHECK(r->value.get_as<point>(0) == point{1, 2, "result"});
    std::vector<caf::message> args;
    jc.core.for_each_unfinished([&](task_id, const std::string&, caf::message a, int32_t) {
      args.push_back(std::move(a));
    });
    REQUIRE(args.size() == 1);
    CHECK(args[0].get_as<point>(0) == p);
  }
  SECTION("one that does not know it refuses the journal, naming the type") {
    test_system ts{false};
    check_refused(ts.sys, path, "test.point");
  }
}

TEST_CASE("journal: a task whose arguments do not serialize is refused, the rest kept",
          "[journal]") {
  temp_dir dir;
  test_system ts{false};  // test.point is not registered
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    jc.enqueue(int_args(1));
    jc.enqueue(caf::make_message(point{}));
    jc.enqueue(int_args(3));
    auto refused = jc.journal->take_refused();
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].first == 2);
    CHECK(describe(refused[0].second).find("add_message_type") != std::string::npos);
    REQUIRE(jc.core.cancel(2));  // as the scheduler does with a refused task
    jc.commit();
  }
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{1, 3});
}

// -- bad input -----------------------------------------------------------------------

namespace {

// A closed journal with `n` pending tasks of some size, spread over pages.
void make_journal(caf::actor_system& sys, const std::string& path, int n) {
  journaled_core jc{sys, path};
  for (int32_t i = 0; i < n; ++i)
    jc.enqueue(caf::make_message(std::string(200, static_cast<char>('a' + i % 26))));
  jc.commit();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << bytes;
}

void sql(const std::string& path, const char* statements) {
  sqlite_db db;
  REQUIRE_FALSE(sqlite_db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, db));
  REQUIRE_FALSE(db.exec(statements, "test"));
}

// Root writes into read-only folders: this thread gives that power up for
// its lifetime (capabilities belong to threads).
class without_root_override {
public:
  without_root_override() {
    syscall(SYS_capget, &header_, saved_);
    __user_cap_data_struct reduced[2] = {saved_[0], saved_[1]};
    reduced[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    syscall(SYS_capset, &header_, reduced);
  }
  ~without_root_override() {
    syscall(SYS_capset, &header_, saved_);
  }

private:
  __user_cap_header_struct header_{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct saved_[2] = {};
};

} // namespace

TEST_CASE("journal: another program's SQLite database is refused and left as it is",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("other.db");
  sql(path, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT); "
            "INSERT INTO accounts VALUES(1, 'someone');");
  check_refused(ts.sys, path, "not a gasched journal");
}

TEST_CASE("journal: a file that is not SQLite is refused and left as it is",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("notes.txt");
  SECTION("text") {
    write_file(path, std::string(5000, 'x') + "\nnot a database\n");
  }
  SECTION("a few bytes") {
    write_file(path, "hi");
  }
  check_refused(ts.sys, path, "not an SQLite database");
}

TEST_CASE("journal: an empty SQLite file, a creation cut short, becomes a journal",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  sql(path, "PRAGMA journal_mode=WAL");
  REQUIRE(std::filesystem::file_size(path) > 0);
  journaled_core jc{ts.sys, path};
  CHECK(jc.enqueue(int_args(1)) == 1);
}

TEST_CASE("journal: a folder is refused", "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto j = sqlite_journal::open(ts.sys, dir.path, fast());
  REQUIRE_FALSE(j);
  CHECK(describe(j.error()).find("not a regular file") != std::string::npos);
}

TEST_CASE("journal: a corrupt or truncated journal is refused and left as it is",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  make_journal(ts.sys, path, 400);
  auto bytes = contents(path);
  REQUIRE(bytes.size() > 20 * 4096);
  SECTION("a page overwritten") {
    auto page = (bytes.size() / 4096 / 2) * 4096;
    std::fill(bytes.begin() + static_cast<long>(page),
              bytes.begin() + static_cast<long>(page + 4096), '\xa5');
    write_file(path, bytes);
  }
  SECTION("cut in half") {
    std::filesystem::resize_file(path, bytes.size() / 2);
  }
  SECTION("cut within the header") {
    std::filesystem::resize_file(path, 60);
  }
  check_refused(ts.sys, path, "corrupt");
}

TEST_CASE("journal: a journal of a newer format is refused and left as it is",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  make_journal(ts.sys, path, 3);
  sql(path, "PRAGMA user_version=2");
  check_refused(ts.sys, path, "newer gasched (journal format 2; this one reads up to 1)");
}

TEST_CASE("journal: a journal in use by another scheduler is refused at once",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  journaled_core first{ts.sys, path};
  first.enqueue(int_args(1));
  first.commit();
  SECTION("in this process") {
    check_refused(ts.sys, path, "in use by another scheduler");
  }
  SECTION("in another process") {
    auto pid = start_child("in_use", path, -1);
    REQUIRE(pid > 0);
    CHECK(wait_child(pid, std::chrono::seconds(30)) == 0);
  }
  // The first one goes on as if nothing happened.
  first.enqueue(int_args(2));
  first.commit();
  first.journal.reset();
  journaled_core again{ts.sys, path};
  CHECK(pending_ids(again.core) == ids{1, 2});
}

TEST_CASE("journal: a full disk fails the commit, keeps the changes and the file",
          "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  { journaled_core jc{ts.sys, path}; }
  auto opts = fast();
  opts.max_bytes = std::filesystem::file_size(path) + 8 * 4096;
  {
    auto j = open_ok(ts.sys, path, opts);
    scheduler_core core{core_limits{}};
    core.set_journal(j.get());
    core.enqueue("f", int_args(1), 0);
    REQUIRE_FALSE(j->commit());
    for (int32_t i = 0; i < 500; ++i)
      core.enqueue("f", caf::make_message(std::string(1000, 'x')), 0);
    auto err = j->commit();
    REQUIRE(err);
    auto text = describe(err);
    INFO(text);
    CHECK(is(err, errc::journal_error));
    CHECK(text.find(path) != std::string::npos);
    CHECK(text.find("disk is full") != std::string::npos);
    CHECK(j->dirty());  // kept for the next commit
    CHECK(j->durable_id() == 1);
  }
  REQUIRE(std::filesystem::exists(path));
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{1});
}

TEST_CASE("journal: a read-only folder or file is a clear error", "[journal][bad_input]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  make_journal(ts.sys, path, 3);
  SECTION("a new journal in a read-only folder") {
    ::chmod(dir.path.c_str(), 0555);
    without_root_override guard;
    auto j = sqlite_journal::open(ts.sys, dir.file("new.db"), fast());
    REQUIRE_FALSE(j);
    auto text = describe(j.error());
    INFO(text);
    CHECK(text.find(dir.file("new.db")) != std::string::npos);
    CHECK(text.find("cannot create it: Permission denied") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("new.db")));
  }
  SECTION("an existing journal in a read-only folder") {
    ::chmod(dir.path.c_str(), 0555);
    without_root_override guard;
    check_refused(ts.sys, path, "read-only");
  }
  SECTION("a read-only journal") {
    ::chmod(path.c_str(), 0444);
    without_root_override guard;
    check_refused(ts.sys, path, "cannot write it: Permission denied");
  }
}
