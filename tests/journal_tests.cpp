// The scheduler's journal (journal/durable_journal.hpp) with the core: what a
// restarted scheduler resumes from and the results it keeps. Bad files are in
// journal_bad_input_tests.cpp.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <chrono>
#include <csignal>
#include <sstream>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <limits>

#include <caf/binary_serializer.hpp>

#include <sqlite3.h>

#include <poll.h>
#include <sys/wait.h>

#include "journal/blob.hpp"
#include "runtime/huge_pages.hpp"
#include "journal_support.hpp"

using namespace gasched;
using namespace gasched::journal_test;

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
  s.pending.push_back(restored_task{12, 1, 5, 2, true, int_args(12), {}, 0});
  s.pending.push_back(restored_task{30, 0, 5, 0, false, int_args(30), {}, 0});
  s.pending.push_back(restored_task{9, 0, 0, 1, true, int_args(9), {}, 0});
  s.pending.push_back(restored_task{5, 1, 0, 0, true, int_args(5), {}, 0});
  s.pending.push_back(restored_task{31, 0, 0, 0, false, int_args(31), {}, 0});
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

TEST_CASE("journal child process", "[.journal_child]") {
  std::istringstream spec{std::getenv("GASCHED_JOURNAL_CHILD") ? std::getenv("GASCHED_JOURNAL_CHILD") : ""};
  std::string mode, path;
  int fd = -1;
  spec >> mode >> path >> fd;
  test_system ts;
  auto j = durable_journal::open(ts.sys, path, fast());
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
  child_guard child{start_child("commit", path, ready[1])};
  REQUIRE(child.pid > 0);
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  REQUIRE(::poll(&p, 1, 30000) == 1);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  child.kill_now();
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
    REQUIRE(jc.core.complete(2, 0, no_node, caf::make_message(std::string{"done"}), caf::error{}));
    auto stored = jc.journal->result_of(2);  // not committed yet: from the buffer
    REQUIRE(stored);
    CHECK(stored->value.get_as<std::string>(0) == "done");
    REQUIRE(jc.dispatch().size() == 1);  // 3 on a
    REQUIRE(jc.core.complete(1, 0, no_node, {}, make_error(errc::max_retries, "boom")));
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

TEST_CASE("journal: a running task's node and lease are kept for its adoption, a requeue "
          "forgets them",
          "[journal][adopt]") {
  temp_dir dir;
  test_system ts;
  check_dispatch_kept(ts.sys, dir.file("j.db"));
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
    REQUIRE(jc.core.complete(1, 0, no_node, int_args(10), {}));
    jc.commit();
    // 2 is written when accepted and again when it ends, by a later commit.
    jc.enqueue(int_args(2));
    jc.commit();
    auto d = jc.dispatch();
    REQUIRE(d.size() == 1);
    REQUIRE(jc.core.complete(2, d[0].second, no_node, int_args(20), {}));
    jc.commit();
  }
  {
    auto j = open_ok(ts.sys, path);
    REQUIRE(j->result_of(1));
    CHECK(j->result_of(1)->value.get_as<int32_t>(0) == 10);
    REQUIRE(j->result_of(2));
    CHECK(j->result_of(2)->value.get_as<int32_t>(0) == 20);
  }
  auto opts = fast();
  opts.keep_results = std::chrono::seconds(0);
  {
    auto j = open_ok(ts.sys, path, opts);
    REQUIRE(j->result_of(1));  // not pruned before a commit
    REQUIRE(j->result_of(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE_FALSE(j->commit());
    CHECK(is(j->result_of(1).error(), errc::unknown_task));
    CHECK(is(j->result_of(2).error(), errc::unknown_task));
  }
  // Nothing of a pruned task is left to resume.
  auto j = open_ok(ts.sys, path);
  CHECK(j->take_snapshot().pending.empty());
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
    REQUIRE(jc.core.complete(1, 0, no_node, caf::make_message(point{1, 2, "result"}), {}));
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

TEST_CASE("journal: a commit is written on its own thread, and what comes meanwhile waits for "
          "the next one",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  journaled_core jc{ts.sys, dir.file("j.db")};
  std::mutex mtx;
  std::condition_variable cv;
  int wakes = 0;
  jc.journal->on_written([&] {
    std::lock_guard<std::mutex> guard{mtx};
    ++wakes;
    cv.notify_all();
  });
  auto wait_wakes = [&](int n) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return wakes >= n; });
  };
  for (int32_t i = 0; i < 3; ++i)
    jc.enqueue(int_args(i));
  jc.journal->set_note("k", "1");
  REQUIRE(jc.journal->start_commit() == durable_journal::started::fresh);
  CHECK(jc.journal->writing());
  CHECK(jc.journal->start_commit() == durable_journal::started::nothing);  // one at a time
  jc.enqueue(int_args(3));  // goes on while the commit is written
  jc.journal->set_note("k", "2");
  CHECK(jc.journal->note("k") == "2");
  REQUIRE(wait_wakes(1));
  auto outcome = jc.journal->finish_commit();
  REQUIRE(outcome);
  CHECK_FALSE(*outcome);
  CHECK(jc.journal->durable_id() == 3);  // not task 4: it came after the commit started
  CHECK(jc.journal->dirty());
  REQUIRE(jc.journal->start_commit() == durable_journal::started::fresh);
  REQUIRE(wait_wakes(2));
  REQUIRE(jc.journal->finish_commit() == std::optional<caf::error>{caf::error{}});
  CHECK(jc.journal->durable_id() == 4);
  CHECK_FALSE(jc.journal->dirty());
  CHECK(jc.journal->start_commit() == durable_journal::started::nothing);
  jc.journal.reset();
  journaled_core again{ts.sys, dir.file("j.db")};
  CHECK(pending_ids(again.core) == ids{1, 2, 3, 4});
  CHECK(again.journal->note("k") == "2");
  CHECK(again.journal->note("other").empty());
}

TEST_CASE("journal: under load the next commit waits group_gap after a large one started, "
          "after a small one it starts at once",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  journaled_core jc{ts.sys, dir.file("j.db")};
  using clock = std::chrono::steady_clock;
  auto gap = durable_journal::group_gap;
  auto zero = clock::duration{};
  CHECK(jc.journal->commit_delay(clock::now()) == zero);  // nothing committed yet
  // A lone task: its commit is small, the next one need not wait.
  jc.enqueue(int_args(0));
  jc.commit();
  jc.enqueue(int_args(1));
  CHECK(jc.journal->commit_delay(clock::now()) == zero);
  // A large commit: the next one waits until group_gap after its start.
  for (size_t i = 0; i < durable_journal::group_min_changes; ++i)
    jc.enqueue(int_args(static_cast<int32_t>(i)));
  auto before = clock::now();
  jc.commit();  // starts the commit of task 1 and these
  auto after = clock::now();
  jc.enqueue(int_args(2));
  auto wait = jc.journal->commit_delay(after);
  // It started between `before` and `after`.
  CHECK(wait <= gap);
  CHECK(wait >= gap - (after - before));
  CHECK(jc.journal->commit_delay(after + gap) == zero);  // the gap has passed
  // A commit written now anyway (commit() is not delayed) starts afresh.
  jc.commit();
  CHECK(jc.journal->commit_delay(clock::now() + gap) == zero);
}

TEST_CASE("journal: a result is found while its commit is being written", "[journal]") {
  temp_dir dir;
  test_system ts;
  journaled_core jc{ts.sys, dir.file("j.db")};
  jc.add_node("n1");
  auto id = jc.enqueue(int_args(5));
  jc.commit();  // the task is in the file
  auto leases = jc.dispatch();
  REQUIRE(leases.size() == 1);
  REQUIRE(jc.core.complete(id, leases[0].second, no_node, int_args(6), caf::error{}));
  jc.journal->on_written([] {});
  REQUIRE(jc.journal->start_commit() == durable_journal::started::fresh);
  auto r = jc.journal->result_of(id);  // in the batch, or in the file once written
  INFO((r ? std::string{} : describe(r.error())));
  REQUIRE(r);
  CHECK(r->how == outcome_kind::succeeded);
  CHECK(r->args.get_as<int32_t>(0) == 5);
  CHECK(r->value.get_as<int32_t>(0) == 6);
  CHECK(r->node == "n1");
  jc.commit();
}

TEST_CASE("journal: a journal of an earlier version, without notes, opens and keeps them",
          "[journal]") {
  temp_dir dir;
  test_system ts;
  auto path = dir.file("j.db");
  {
    journaled_core jc{ts.sys, path};
    jc.enqueue(int_args(1));
    jc.commit();
  }
  {
    sqlite_db db;
    REQUIRE_FALSE(sqlite_db::open(path, SQLITE_OPEN_READWRITE, db));
    REQUIRE_FALSE(db.exec("DROP TABLE notes", "test"));
  }
  journaled_core jc{ts.sys, path};
  CHECK(pending_ids(jc.core) == ids{1});
  CHECK(jc.journal->note("k").empty());
  jc.journal->set_note("k", "v");
  jc.commit();
  jc.journal.reset();
  journaled_core again{ts.sys, path};
  CHECK(again.journal->note("k") == "v");
}

// -- the change buffer ---------------------------------------------------------------

TEST_CASE("journal: the change buffer keeps one change per task, in order, across growth "
          "and clearing",
          "[journal]") {
  detail::change_buffer buf;
  for (int round = 0; round < 3; ++round) {
    // More than one chunk and several rebuilds of the index; ids far apart
    // too, as a requeued task's is among new ones.
    const task_id n = round == 1 ? 300 : 20000;
    if (round == 0)
      buf.reserve(n, 16 * n);  // a batch announced: room made at once
    for (task_id id = 1; id <= n; ++id) {
      if (round == 2 && id == n / 2)
        buf.reserve(4 * n, 0);  // beyond what the index has: rebuilt around half of them
      buf.add(id * (id % 7 == 0 ? 1000003 : 1)).priority = static_cast<int32_t>(id);
    }
    for (task_id id = 1; id <= n; id += 3)
      buf.touch(id * (id % 7 == 0 ? 1000003 : 1)).state = detail::task_state::finished;
    buf.touch(0).state = detail::task_state::running;  // one the buffer had not seen
    REQUIRE(buf.changes().size() == n + 1);
    task_id id = 1;
    for (auto& c : buf.changes()) {
      if (id > n) {
        CHECK(c.id == 0);
        CHECK_FALSE(c.is_new);
        break;
      }
      REQUIRE(c.id == id * (id % 7 == 0 ? 1000003 : 1));
      CHECK(c.is_new);
      CHECK(c.priority == static_cast<int32_t>(id));
      CHECK((c.state == detail::task_state::finished) == (id % 3 == 1));
      ++id;
    }
    auto found = buf.find(7 * 1000003);
    REQUIRE(found != nullptr);
    CHECK(found->priority == 7);
    CHECK(buf.find(n + 1) == nullptr);
    buf.clear();
    CHECK(buf.empty());
    CHECK(buf.find(1) == nullptr);
    CHECK(buf.find(7 * 1000003) == nullptr);
  }
}

TEST_CASE("journal: the change buffer's memory is advised as huge pages where the kernel "
          "has them (one page fault per 2 MiB)",
          "[journal]") {
  // Whether the kernel backs it with huge pages is its business (free memory,
  // fragmentation); that the range is eligible (aligned, advised) is ours.
  auto eligible = [](const void* p) -> std::optional<bool> {
    std::ifstream smaps{"/proc/self/smaps"};
    auto at = reinterpret_cast<uintptr_t>(p);
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
      uintptr_t from = 0, to = 0;
      if (std::sscanf(line.c_str(), "%lx-%lx ", &from, &to) == 2 && line.find('-') < 16)
        inside = from <= at && at < to;
      else if (inside && line.rfind("THPeligible:", 0) == 0)
        return line.find('1') != std::string::npos;
    }
    return std::nullopt;
  };
  std::ifstream thp{"/sys/kernel/mm/transparent_hugepage/enabled"};
  std::string modes;
  std::getline(thp, modes);
  const size_t bytes = 3 * detail::huge_page_size + 12345;
  auto p = detail::huge_alloc(bytes);
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % detail::huge_page_size == 0);
  std::memset(p, 0x5a, bytes);  // all of it is ours to write
  if (modes.empty() || modes.find("[never]") != std::string::npos)
    WARN("this kernel has no transparent huge pages (" << modes << "): plain pages");
  else
    CHECK(eligible(p) == std::optional<bool>{true});
  detail::huge_free(p, bytes);
}

TEST_CASE("journal: messages of integers are written in exactly CAF's bytes without its "
          "serializer, and read back",
          "[journal]") {
  test_system ts;
  auto caf_bytes = [&](caf::message x) {
    std::vector<char> out;
    caf::binary_serializer sink{ts.sys, out};
    REQUIRE_FALSE(sink(x));
    return out;
  };
  const std::vector<caf::message> ints = {
    caf::make_message(int32_t{0}),
    caf::make_message(int32_t{7}),
    caf::make_message(int32_t{-1}),
    caf::make_message(std::numeric_limits<int32_t>::min()),
    caf::make_message(int64_t{0x0123456789abcdefll}),
    caf::make_message(uint64_t{0xfedcba9876543210ull}),
    caf::make_message(uint8_t{200}),
    caf::make_message(int16_t{-300}),
    caf::make_message(int32_t{5}, int64_t{-6}),
    caf::make_message(uint32_t{4000000000u}, int8_t{-8}),
  };
  // Twice: first each combination of types is learned, then found again.
  for (int round = 0; round < 2; ++round) {
    for (auto& x : ints) {
      INFO(to_string(x));
      std::vector<char> fast{'a'};  // appended after what is there
      REQUIRE(append_int_blob(ts.sys, x, fast));
      auto expected = caf_bytes(x);
      expected.insert(expected.begin(), 'a');
      CHECK(fast == expected);
      caf::message back;
      REQUIRE_FALSE(load_blob(ts.sys, fast.data() + 1, fast.size() - 1, back));
      CHECK(to_string(back) == to_string(x));
    }
  }
  // Anything else is CAF's to write.
  for (auto& x : {caf::make_message(1.5), caf::make_message(std::string{"s"}),
                  caf::make_message(true), caf::make_message(1, 2, 3), caf::message{}}) {
    std::vector<char> out;
    CHECK_FALSE(append_int_blob(ts.sys, x, out));
    CHECK(out.empty());
  }
}
