// A scheduler actor with a journal, killed (exit_reason::kill: no exit
// handler runs) and spawned again on the same file in the same process:
// nothing it acknowledged is lost, results that finished stay awaitable, ids
// go on. The same with the process killed by kill -9: journal_process_tests
// (tasks and results) and run_journal_tests (gasched-run's notes).
#include "actor_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace gasched;
using namespace gasched::testing;

namespace {

struct journal_dir {
  std::filesystem::path path;
  journal_dir() {
    char name[] = "/tmp/gasched-journal-XXXXXX";
    path = mkdtemp(name);
  }
  ~journal_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const {
    return (path / name).string();
  }
};

scheduler_options journaled(cluster& c, std::vector<caf::actor> nodes, const std::string& name,
                            const std::string& file) {
  auto opts = c.options(std::move(nodes));
  opts.name = name;
  opts.journal = file;
  opts.journal_sync = false;  // a test needs no fsync
  return opts;
}

} // namespace

TEST_CASE("journal: a scheduler actor killed and spawned again resumes its tasks and keeps "
          "results",
          "[journal]") {
  journal_dir dir;
  auto file = dir.file("sched.db");
  cluster c;
  auto first = c.scheduler(journaled(c, c.nodes(1, "a"), "first", file));
  auto done_id = c.execute(first, make_task("test.identity", caf::make_message(int32_t{7})));
  auto done = c.results(1).front();
  REQUIRE(done.ok());
  REQUIRE(c.ask<caf::ok_atom>(first, set_max_workers_atom::value, uint32_t{0}));
  std::vector<task_id> waiting;
  for (int32_t i = 1; i <= 3; ++i)
    waiting.push_back(c.execute(first, make_task("test.identity", caf::make_message(i))));
  // Ended as a crash ends it, but only the actor: no exit handler runs,
  // nothing more is written.
  c.self()->send_exit(first, caf::exit_reason::kill);
  REQUIRE(c.wait_down(first) == caf::make_error(caf::exit_reason::kill));
  auto second = c.scheduler(journaled(c, c.nodes(1, "b"), "second", file));
  auto resumed = c.results(3);
  std::set<task_id> ids;
  for (auto& r : resumed) {
    CHECK(r.ok());
    CHECK(r.node == "b1");
    CHECK(r.scheduler == "second");
    ids.insert(r.id);
  }
  CHECK(ids == std::set<task_id>(waiting.begin(), waiting.end()));
  CHECK(c.execute(second, make_task("test.identity", caf::make_message(int32_t{9})))
        == waiting.back() + 1);  // ids go on
  c.results(1);
  auto kept = c.ask<task_result>(second, await_atom::value, done_id);
  REQUIRE(kept);
  CHECK(kept->ok());
  CHECK(kept->value.get_as<int32_t>(0) == 7);
  CHECK(kept->node == "a1");
  auto s = c.get_stats(second);
  CHECK(s.succeeded == 5);
  CHECK(s.pending == 0);
  CHECK(s.running == 0);
}

TEST_CASE("journal: a file in use or that is no journal is refused, named, and left as it was",
          "[journal]") {
  journal_dir dir;
  cluster c;
  auto file = dir.file("sched.db");
  auto running = c.scheduler(journaled(c, {}, "running", file));
  auto again = spawn_scheduler(c.sys(), journaled(c, {}, "again", file));
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), errc::journal_error));
  CHECK_THAT(describe(again.error()), Catch::Contains(file));
  auto text = dir.file("notes.txt");
  std::ofstream{text} << "not a journal\n";
  auto refused = spawn_scheduler(c.sys(), journaled(c, {}, "text", text));
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), errc::journal_error));
  CHECK_THAT(describe(refused.error()), Catch::Contains(text));
  std::ifstream in{text};
  std::string content{std::istreambuf_iterator<char>{in}, {}};
  CHECK(content == "not a journal\n");
  CHECK(c.ask<caf::ok_atom>(running, stop_atom::value));
}

TEST_CASE("blocking_client: execute, await, stats, cancel and stop from plain code",
          "[contract]") {
  cluster c;
  auto opts = c.options(c.nodes(2));
  opts.client = nullptr;  // results only to whoever awaits
  auto sched = c.scheduler(opts);
  blocking_client client{c.sys(), sched, std::chrono::seconds(10), std::chrono::seconds(10)};
  auto r = client.await(make_task("test.identity", caf::make_message(int32_t{42})));
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(r->value.get_as<int32_t>(0) == 42);
  auto id = client.execute(make_task("test.sleep", caf::make_message(int32_t{1}, int32_t{50})));
  REQUIRE(id);
  auto later = client.await(*id);
  REQUIRE(later);
  CHECK(later->id == *id);
  auto slow = client.execute(make_task("test.sleep", caf::make_message(int32_t{2}, int32_t{60000})));
  REQUIRE(slow);
  CHECK_FALSE(client.cancel(*slow));
  CHECK(is(client.cancel(*slow), errc::unknown_task));
  auto s = client.stats();
  REQUIRE(s);
  CHECK(s->succeeded == 2);
  CHECK(s->cancelled == 1);
  CHECK_FALSE(client.stop());
}

TEST_CASE("journal: a client's notes are on disk when answered and outlive the scheduler "
          "actor's kill",
          "[journal]") {
  journal_dir dir;
  auto file = dir.file("sched.db");
  cluster c;
  auto first = c.scheduler(journaled(c, {}, "first", file));
  CHECK(c.ask<std::string>(first, note_atom::value, std::string{"run"}) == std::string{});
  REQUIRE(c.ask<caf::ok_atom>(first, note_atom::value, std::string{"run"}, std::string{"a"}));
  REQUIRE(c.ask<caf::ok_atom>(first, note_atom::value, std::string{"run"},
                              std::string{"out=42\0x", 8}));  // bytes, not only text
  REQUIRE(c.ask<caf::ok_atom>(first, note_atom::value, std::string{"other"}, std::string{}));
  CHECK(c.ask<std::string>(first, note_atom::value, std::string{"run"})
        == std::string{"out=42\0x", 8});
  c.self()->send_exit(first, caf::exit_reason::kill);  // no exit handler, no last commit
  REQUIRE(c.wait_down(first) == caf::make_error(caf::exit_reason::kill));
  auto second = c.scheduler(journaled(c, {}, "second", file));
  CHECK(c.ask<std::string>(second, note_atom::value, std::string{"run"})
        == std::string{"out=42\0x", 8});
  CHECK(c.ask<std::string>(second, note_atom::value, std::string{"other"}) == std::string{});
  CHECK(c.ask<caf::ok_atom>(second, stop_atom::value));
  // Without a journal a note has nowhere to go: said, not dropped.
  auto plain = c.scheduler(c.options({}));
  auto refused = c.ask<caf::ok_atom>(plain, note_atom::value, std::string{"k"}, std::string{"v"});
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), errc::journal_error));
  CHECK_THAT(describe(refused.error()), Catch::Contains("no journal"));
}
