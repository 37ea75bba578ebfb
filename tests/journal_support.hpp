// What the journal tests share: a user type, an actor system that knows it
// (or not), a scratch folder, and a core on a journal as the scheduler runs it.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <thread>
#include <tuple>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/make_message.hpp>

#include "core/scheduler_core.hpp"
#include "gasched/errc.hpp"
#include "journal/sqlite_db.hpp"
#include "journal/durable_journal.hpp"
#include "journal/journal_file.hpp"

namespace gasched::journal_test {

using namespace gasched::detail;


// A user's type, registered by name as README says.
struct point {
  int32_t x = 0;
  int32_t y = 0;
  std::string label;
};

inline bool operator==(const point& a, const point& b) {
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

inline std::string contents(const std::string& file) {
  std::ifstream in{file, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

inline journal_options fast() {
  journal_options opts;
  opts.sync_every_commit = false;
  return opts;
}

inline std::unique_ptr<durable_journal> open_ok(caf::actor_system& sys, const std::string& path,
                                        journal_options opts = fast()) {
  auto j = durable_journal::open(sys, path, opts);
  if (!j)
    FAIL(describe(j.error()));
  return std::move(*j);
}

// Opening fails at once with journal_error naming the file and saying
// `what`, and the file is byte for byte what it was.
inline void check_refused(caf::actor_system& sys, const std::string& path, const std::string& what) {
  auto before = contents(path);
  auto start = std::chrono::steady_clock::now();
  auto j = durable_journal::open(sys, path, fast());
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
  std::unique_ptr<durable_journal> journal;
  scheduler_core core;

  journaled_core(caf::actor_system& sys, const std::string& path,
                 core_limits limits = core_limits{2, 0, 3})
    : journal(open_ok(sys, path)), core(limits) {
    REQUIRE_FALSE(core.restore(journal->take_snapshot()));
    // No node comes back to claim what ran: it runs again (adoption:
    // scheduler_core_adopt_tests.cpp).
    core.release_unadopted();
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

inline std::vector<task_id> pending_ids(const scheduler_core& core) {
  std::vector<task_id> ids;
  core.for_each_unfinished(
    [&](task_id id, const std::string&, const caf::message&, int32_t) { ids.push_back(id); });
  ids.resize(core.pending());
  return ids;
}

inline caf::message int_args(int32_t i) {
  return caf::make_message(i);
}

// What a journal keeps of a running task for adoption (scheduler_core::adopt):
// the name of its node and its lease's epoch, written with its dispatch (in
// the commit that accepts it, or later), kept by a resume that no node's
// claim followed, cleared by a requeue. For every store.
inline void check_dispatch_kept(caf::actor_system& sys, const std::string& path) {
  auto snapshot = [&] { return open_ok(sys, path)->take_snapshot(); };
  auto find = [](journal_snapshot& s, task_id id) -> restored_task& {
    for (auto& t : s.pending)
      if (t.id == id)
        return t;
    FAIL("task " << id << " is not in the snapshot");
    return s.pending.front();
  };
  uint32_t e1 = 0;
  {
    journaled_core jc{sys, path, core_limits{1, 0, 3}};
    jc.add_node("x");
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    auto d = jc.dispatch();  // 1 on x, in the commit that accepts it
    REQUIRE(d.size() == 1);
    e1 = d[0].second;
    jc.commit();
  }
  for (int reopen = 0; reopen < 2; ++reopen) {  // the second: after a resume nobody claimed
    INFO("reopen " << reopen);
    auto s = snapshot();
    auto& t1 = find(s, 1);
    CHECK(t1.node == "x");
    CHECK(t1.epoch == e1);
    CHECK(t1.running == (reopen == 0));
    auto& t2 = find(s, 2);
    CHECK(t2.node.empty());
    CHECK(t2.epoch == 0);
    CHECK_FALSE(t2.running);
  }
  std::string name_of_2;
  uint32_t e2 = 0;
  {
    journaled_core jc{sys, path, core_limits{1, 0, 3}};  // releases 1: it runs again
    std::vector<std::string> names{"y", "z"};
    for (auto& name : names)
      jc.add_node(name);
    REQUIRE(jc.dispatch().size() == 2);  // rows written before
    node_index node_of_1 = no_node;
    jc.core.for_each_running([&](task_id id, node_index n, uint32_t epoch) {
      if (id == 1)
        node_of_1 = n;
      else
        std::tie(name_of_2, e2) = std::pair{names.at(n), epoch};
    });
    REQUIRE(node_of_1 != no_node);
    jc.core.remove_node(node_of_1);  // 1 requeued: its node forgotten
    jc.commit();
  }
  auto s = snapshot();
  auto& t1 = find(s, 1);
  CHECK(t1.node.empty());
  CHECK(t1.epoch == 0);
  CHECK_FALSE(t1.running);
  auto& t2 = find(s, 2);
  CHECK(t2.node == name_of_2);
  CHECK(t2.epoch == e2);
  CHECK(t2.running);
}


// A journal of the format before a running task's node and lease were kept
// (SQLite format 2, PostgreSQL layout 2), as `downgrade()` makes it of one
// just written: upgraded on opening, its running task, kept without node or
// lease, may be claimed by any node under an earlier lease, and that
// adoption is written as the current format writes it. For every store.
template <class Downgrade>
void check_upgrade_keeps_running(caf::actor_system& sys, const std::string& path,
                                 Downgrade downgrade) {
  uint32_t epoch = 0;
  {
    journaled_core jc{sys, path};
    jc.add_node("a", 1);
    jc.enqueue(int_args(1));
    jc.enqueue(int_args(2));
    auto d = jc.dispatch();  // 1 runs when the scheduler stops
    REQUIRE(d.size() == 1);
    epoch = d[0].second;
    jc.commit();
  }
  downgrade();
  auto j = open_ok(sys, path);
  auto s = j->take_snapshot();
  REQUIRE(s.pending.size() == 2);
  auto& t1 = s.pending.front();
  CHECK(t1.id == 1);
  CHECK(t1.running);
  CHECK(t1.node.empty());
  CHECK(t1.epoch == 0);
  scheduler_core core{core_limits{2, 0, 3}};
  REQUIRE_FALSE(core.restore(std::move(s)));
  core.set_journal(j.get());
  auto b = core.add_node(0);
  j->name_node(b, "b");
  CHECK(core.adopt(b, "b", {{1, epoch}}) == std::vector<task_id>{1});
  REQUIRE_FALSE(j->commit());
  j.reset();
  auto again = open_ok(sys, path)->take_snapshot();
  REQUIRE_FALSE(again.pending.empty());
  CHECK(again.pending.front().node == "b");
  CHECK(again.pending.front().epoch == epoch);
}

// Another process of this test binary, for the tests that need a second
// process on the same journal. It is exec'd, not just forked: a fork of a
// process with threads (CAF's, and a sanitizer's) may deadlock in the child.
// The child runs the hidden test case below with GASCHED_JOURNAL_CHILD set to
// "MODE PATH FD"; the parent reads FD's other end.
inline pid_t start_child(const std::string& mode, const std::string& path, int fd) {
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

// Kills and reaps a child when the test leaves early (a failed REQUIRE), so that
// a child waiting in pause() is not left behind.
struct child_guard {
  pid_t pid;
  void kill_now() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~child_guard() { kill_now(); }
};

// The child's exit status, or -1 when it did not end within `timeout`.
inline int wait_child(pid_t pid, std::chrono::seconds timeout) {
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

using ids = std::vector<task_id>;

} // namespace gasched::journal_test
