// Every kind of bad journal file, each refused with a clear error naming the
// file and left as it was: another program's database, a damaged or newer
// one, a locked one, a read-only folder, a full disk.
#include <linux/capability.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "journal_support.hpp"

using namespace gasched;
using namespace gasched::journal_test;

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

// What every case starts from: a scratch folder, an actor system, and the
// path of the journal under test.
struct bad_journal {
  temp_dir dir;
  test_system ts;
  std::string path = dir.file("j.db");

  // Opening `path` is refused, saying `what`, and leaves the file as it was.
  void refused(const std::string& what) {
    check_refused(ts.sys, path, what);
  }
};

} // namespace

TEST_CASE_METHOD(bad_journal,
                 "journal: another program's SQLite database is refused and left as it is",
                 "[journal][bad_input]") {
  path = dir.file("other.db");
  sql(path, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT); "
            "INSERT INTO accounts VALUES(1, 'someone');");
  refused("not a gasched journal");
}

TEST_CASE_METHOD(bad_journal, "journal: a file that is not SQLite is refused and left as it is",
                 "[journal][bad_input]") {
  path = dir.file("notes.txt");
  SECTION("text") {
    write_file(path, std::string(5000, 'x') + "\nnot a database\n");
  }
  SECTION("a few bytes") {
    write_file(path, "hi");
  }
  refused("not an SQLite database");
}

TEST_CASE_METHOD(bad_journal,
                 "journal: an empty SQLite file, a creation cut short, becomes a journal",
                 "[journal][bad_input]") {
  sql(path, "PRAGMA journal_mode=WAL");
  REQUIRE(std::filesystem::file_size(path) > 0);
  journaled_core jc{ts.sys, path};
  CHECK(jc.enqueue(int_args(1)) == 1);
}

TEST_CASE_METHOD(bad_journal, "journal: a folder is refused", "[journal][bad_input]") {
  auto j = durable_journal::open(ts.sys, dir.path, fast());
  REQUIRE_FALSE(j);
  CHECK(describe(j.error()).find("not a regular file") != std::string::npos);
}

TEST_CASE_METHOD(bad_journal,
                 "journal: a corrupt or truncated journal is refused and left as it is",
                 "[journal][bad_input]") {
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
  refused("corrupt");
}

TEST_CASE_METHOD(bad_journal, "journal: a journal of a newer format is refused and left as it is",
                 "[journal][bad_input]") {
  make_journal(ts.sys, path, 3);
  sql(path, ("PRAGMA user_version=" + std::to_string(journal_format + 1)).c_str());
  refused("newer gasched (journal format " + std::to_string(journal_format + 1)
          + "; this one reads up to " + std::to_string(journal_format) + ")");
}

TEST_CASE_METHOD(bad_journal, "journal: a journal of a format gasched never wrote is refused "
                              "and left as it is", "[journal][bad_input]") {
  make_journal(ts.sys, path, 3);
  sql(path, "PRAGMA user_version=-4");
  refused("journal format -4 is no format gasched ever wrote");
}

TEST_CASE_METHOD(bad_journal, "journal: a journal in use by another scheduler is refused at once",
                 "[journal][bad_input]") {
  journaled_core first{ts.sys, path};
  first.enqueue(int_args(1));
  first.commit();
  SECTION("in this process") {
    refused("in use by another scheduler");
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

TEST_CASE_METHOD(bad_journal,
                 "journal: a block of tasks with damaged bytes is refused, naming it, and left "
                 "as it is",
                 "[journal][bad_input]") {
  make_journal(ts.sys, path, 400);  // one commit of 400 tasks: one block
  SECTION("cut short") {
    sql(path, "UPDATE blocks SET tasks = substr(tasks, 1, length(tasks) - 7)");
  }
  SECTION("a task's numbers overwritten") {
    sql(path, "UPDATE blocks SET tasks = x'ffffffffffffffffffffff' || tasks");
  }
  SECTION("a task outside its block's range") {
    sql(path, "UPDATE blocks SET last_id = 7");
  }
  refused("the block of tasks from 1 is damaged");
}

TEST_CASE_METHOD(bad_journal,
                 "journal: a full disk fails the commit, keeps the changes and the file",
                 "[journal][bad_input]") {
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

TEST_CASE_METHOD(bad_journal, "journal: a read-only folder or file is a clear error",
                 "[journal][bad_input]") {
  make_journal(ts.sys, path, 3);
  SECTION("a new journal in a read-only folder") {
    ::chmod(dir.path.c_str(), 0555);
    without_root_override guard;
    auto j = durable_journal::open(ts.sys, dir.file("new.db"), fast());
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
    refused("read-only");
  }
  SECTION("a read-only journal") {
    ::chmod(path.c_str(), 0444);
    without_root_override guard;
    refused("cannot write it: Permission denied");
  }
}

TEST_CASE_METHOD(bad_journal,
                 "journal: a pack of ends or of moves with damaged bytes is refused, naming it, "
                 "and left as it is",
                 "[journal][bad_input]") {
  {
    // 400 tasks in a block; 10 dispatched, 5 of them ended by a later commit.
    journaled_core jc{ts.sys, path, core_limits{10, 0, 3}};
    for (int32_t i = 1; i <= 400; ++i)
      jc.enqueue(int_args(i));
    jc.commit();
    jc.add_node("a", 10);
    auto d = jc.dispatch();
    REQUIRE(d.size() == 10);
    jc.commit();
    for (size_t i = 0; i < 5; ++i)
      REQUIRE(jc.core.complete(d[i].first, d[i].second, no_node, int_args(0), {}));
    jc.commit();
  }
  SECTION("ends cut short") {
    sql(path, "UPDATE end_packs SET ends = substr(ends, 1, length(ends) - 3)");
    refused("the ends from 1 are damaged");
  }
  SECTION("an end outside its pack's range") {
    sql(path, "UPDATE end_packs SET last_id = 2");
    refused("the ends from 1 are damaged");
  }
  SECTION("an end's numbers overwritten") {
    sql(path, "UPDATE end_packs SET ends = x'ffffffffffffffffffffff' || ends");
    refused("the ends from 1 are damaged");
  }
  SECTION("moves cut short") {
    sql(path, "UPDATE move_packs SET moves = substr(moves, 1, length(moves) - 1)");
    refused("the moves of pack 1 are damaged");
  }
  SECTION("a move's flags out of range") {
    sql(path, "UPDATE move_packs SET moves = x'01ff01' || moves");
    refused("the moves of pack 1 are damaged");
  }
  SECTION("a move on a node without a name") {
    sql(path, "UPDATE move_packs SET moves = x'060907'");  // task 6 running on node 7
    refused("task 6 ran on node 7, which has no name");
  }
}
