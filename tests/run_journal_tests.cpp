// gasched-run --journal: killed with kill -9 at random moments and started
// again with the same command, it finishes the batch, and --out's file holds
// every line's result exactly once; journals and output files that are not
// this run's are refused without being touched.
#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

uint64_t base_seed() {
  if (auto env = std::getenv("GASCHED_SEED"))
    return std::strtoull(env, nullptr, 10);
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

// Every `bad_every`th line is not JSON; the others sleep 2..9 ms and
// return their line number (a batch of 2,000 takes about 2 s on 8 slots).
std::string task_lines(size_t lines, size_t bad_every, std::mt19937_64& rng) {
  std::string text;
  for (size_t i = 1; i <= lines; ++i)
    text += i % bad_every == 0 ? std::string{"not a task\n"}
                               : "{\"fn\": \"test.sleep\", \"args\": [" + std::to_string(i)
                                   + ", " + std::to_string(2 + rng() % 8) + "]}\n";
  return text;
}

// The pids whose parent is `parent` (gasched-run's node processes).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> result;
  auto* dir = opendir("/proc");
  if (!dir)
    return result;
  while (auto* e = readdir(dir)) {
    auto pid = std::atoi(e->d_name);
    if (pid <= 0)
      continue;
    auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
    // pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{stat.substr(close + 1)};
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent)
      result.push_back(pid);
  }
  closedir(dir);
  return result;
}

bool gone(pid_t pid) {
  auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return stat.empty() || (close != std::string::npos && stat.substr(close + 2, 1) == "Z");
}

// Waits (bounded) until every pid in `pids` has exited.
bool all_gone(const std::vector<pid_t>& pids, std::chrono::seconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool any = false;
    for (auto pid : pids)
      any = any || !gone(pid);
    if (!any)
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
}

std::vector<std::string> journaled(const std::string& tasks, const std::string& journal,
                                   const std::string& out, std::vector<std::string> more = {}) {
  return with(on_test_nodes({"--tasks", tasks, "--journal", journal, "--out", out, "--quiet",
                             "--progress", "off", "--slots", "4", "--max-pending", "500"}),
              more);
}

// How a run of gasched-run ended: its exit status, or nullopt when it was
// killed; its stderr.
struct run_end {
  std::optional<int> status;
  std::string err;
};

// One run of `args`, killed with kill -9 `delay` after it started unless it
// ended first; when `output` is given, `delay` after that file first holds
// a line. Its node processes must not outlive it.
run_end run_or_kill(const scratch& dir, const std::vector<std::string>& args,
                    std::chrono::milliseconds delay, const std::string& output = {}) {
  suppress_caf_leaks_in_children();
  static int runs = 0;
  std::vector<std::string> argv{GASCHED_RUN_PROGRAM};
  argv.insert(argv.end(), args.begin(), args.end());
  auto err = dir.file("killed-" + std::to_string(++runs) + ".txt");
  auto p = gasched::tools::child_process::start_logged(argv, err);
  if (!output.empty()) {
    // A file that grows: no event to wait on but its size.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    std::error_code none;
    while (!(fs::file_size(output, none) > 0 && !none) && !gone(p.pid())
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
  }
  // With --out, stdout stays empty: this waits for the exit or the delay.
  while (p.read_line(delay)) {
  }
  if (auto status = p.wait_exit(50ms)) {
    INFO("stderr:\n" << read_all(err));
    REQUIRE(WIFEXITED(*status));
    return {WEXITSTATUS(*status), read_all(err)};
  }
  auto nodes = children_of(p.pid());
  p.kill();
  INFO("node processes of the killed gasched-run: " << nodes.size());
  CHECK(all_gone(nodes));
  return {std::nullopt, read_all(err)};
}

// What a run said it found done by the runs before it, from its notice
// "resuming the run recorded in J: K result lines written, A tasks awaited
// again, ...": K + A (results it kept, tasks it did not submit again);
// nullopt when it resumed nothing. With --ordered a killed run may have
// written no line yet (an early line still running) and still leave
// hundreds of accepted tasks to await.
std::optional<uint64_t> resumed_lines(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex{"resuming the run recorded in .*: ([0-9]+) result "
                                            "lines written, ([0-9]+) tasks awaited again"}))
    return std::nullopt;
  return std::stoull(m[1].str()) + std::stoull(m[2].str());
}

// Every line 1..lines exactly once: malformed ones as malformed, tasks with
// their line number as value.
void check_exactly_once(const std::string& out, size_t lines, size_t bad_every) {
  std::map<size_t, int> seen;
  std::istringstream in{read_all(out)};
  std::string text;
  size_t n = 0;
  while (std::getline(in, text)) {
    ++n;
    INFO("output line " << n << ": " << text);
    auto j = json::parse(text);  // every line whole: no torn line at a cut
    auto line = j.at("line").get<size_t>();
    ++seen[line];
    if (line % bad_every == 0) {
      CHECK(j.at("error") == "malformed");
    } else {
      CHECK(j.at("ok") == true);
      CHECK(j.at("value") == line);
      CHECK(j.at("fn") == "test.sleep");
    }
  }
  CHECK(n == lines);
  std::vector<size_t> missing, twice;
  for (size_t i = 1; i <= lines; ++i)
    if (seen[i] == 0)
      missing.push_back(i);
    else if (seen[i] > 1)
      twice.push_back(i);
  INFO("missing " << missing.size() << " (first " << (missing.empty() ? 0 : missing[0])
                  << "), more than once " << twice.size() << " (first "
                  << (twice.empty() ? 0 : twice[0]) << ")");
  CHECK(missing.empty());
  CHECK(twice.empty());
}

} // namespace

TEST_CASE("gasched-run --journal --out: killed by kill -9 at random moments, the same command "
          "finishes the batch with every line's result once",
          "[run][journal]") {
  auto base = base_seed();
  WARN("gasched-run kill -9 test: seeds GASCHED_SEED=" << base << " + run");
  constexpr size_t bad_every = 397;
  for (int run = 0; run < 3; ++run) {
    auto seed = base + static_cast<uint64_t>(run);
    INFO("GASCHED_SEED=" << base << ", run " << run << ", seed " << seed);
    std::mt19937_64 rng{seed};
    scratch dir;
    auto lines = 2000 + rng() % 1001;
    auto tasks = dir.file("tasks.jsonl", task_lines(lines, bad_every, rng));
    auto out = dir.file("results.jsonl");
    // The last run in input order: held lines and malformed ones wait.
    auto args = journaled(tasks, dir.file("run.db"), out,
                          run == 2 ? std::vector<std::string>{"--ordered"}
                                   : std::vector<std::string>{});
    args.erase(std::find(args.begin(), args.end(), "--quiet"));  // the notices on stderr
    // The first run once it writes results, then at random moments from
    // their start, up to 6 kills; then one that may finish.
    int killed = 0;
    uint64_t kept = 0;  // result lines a run found written by killed ones, at most
    run_end end;
    for (int attempt = 0; attempt <= 6 && !end.status; ++attempt) {
      using ms = std::chrono::milliseconds;
      end = attempt == 0  ? run_or_kill(dir, args, ms(150 + rng() % 350), out)
            : attempt < 6 ? run_or_kill(dir, args, ms(50 + rng() % 1000))
                          : run_or_kill(dir, args, 120s);
      if (killed > 0)
        kept = std::max(kept, resumed_lines(end.err).value_or(0));
      if (!end.status)
        ++killed;
    }
    WARN("seed " << seed << ": " << lines << " lines, " << killed << " runs killed, up to "
                 << kept << " lines kept or awaited again by a run after a kill");
    INFO("the last run's stderr:\n" << end.err);
    REQUIRE(end.status);  // the last run finished
    CHECK(killed >= 1);   // the first one was killed: its batch takes seconds
    CHECK(kept > 0);      // and a run after a kill went on from what was written
    CHECK(*end.status == 1);  // the malformed lines
    CHECK_THAT(end.err, Catch::Contains("malformed"));
    check_exactly_once(out, lines, bad_every);
    // Once more: the batch is done, nothing runs, the output stays.
    auto before = read_all(out);
    std::string err;
    CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, args), err, dir) == 1);
    CHECK_THAT(err, Catch::Contains("is done"));
    CHECK(read_all(out) == before);
  }
}

TEST_CASE("gasched-run --journal: a file that is not a journal, or one in use, is refused "
          "and left as it was",
          "[run][journal]") {
  scratch dir;
  auto tasks = dir.file("tasks.jsonl", "{\"fn\": \"test.sleep\", \"args\": [1, 1]}\n");
  std::string err;
  SECTION("not a journal") {
    auto journal = dir.file("notes.txt", "my notes, not a database\n");
    auto out = dir.file("out.jsonl");
    CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(tasks, journal, out)), err, dir)
          == 1);
    CHECK_THAT(err, Catch::Contains(journal));
    CHECK_THAT(err, Catch::Contains("not a gasched journal"));
    CHECK(read_all(journal) == "my notes, not a database\n");
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("in use by another run") {
    auto journal = dir.file("run.db");
    auto slow = dir.file("slow.jsonl", "{\"fn\": \"test.sleep\", \"args\": [1, 60000]}\n");
    run_process first{dir, with(journaled(slow, journal, dir.file("first.jsonl")),
                                {"--quiet"})};
    // The first run holds the journal once its scheduler runs: then the
    // initial record is in the output's journal, and the output exists.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!fs::exists(dir.file("first.jsonl")) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    REQUIRE(fs::exists(dir.file("first.jsonl")));
    auto out = dir.file("second.jsonl");
    CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(tasks, journal, out)), err, dir)
          == 1);
    CHECK_THAT(err, Catch::Contains(journal));
    CHECK_FALSE(fs::exists(out));
    first.signal(SIGTERM);
    first.finish();
  }
  SECTION("the journal of a run of another task file") {
    auto journal = dir.file("run.db");
    auto out = dir.file("out.jsonl");
    CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(tasks, journal, out)), err, dir)
          == 0);
    auto before = read_all(out);
    auto other = dir.file("other.jsonl", "{\"fn\": \"test.sleep\", \"args\": [2, 1]}\n");
    CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(other, journal, out)), err, dir)
          == 1);
    CHECK_THAT(err, Catch::Contains("is not the task file of the journal's run"));
    CHECK(read_all(out) == before);
    // ... and an output that is not that run's (bytes after the recorded
    // ones are a killed run's tail, cut back; these are within them).
    auto edited = before;
    edited[edited.find("\"ok\":true")] = ' ';
    std::ofstream{out, std::ios::trunc} << edited;
    CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(tasks, journal, out)), err, dir)
          == 1);
    CHECK_THAT(err, Catch::Contains(out));
    CHECK_THAT(err, Catch::Contains("is not the output of the run recorded in " + journal));
    CHECK(read_all(out) == edited);
  }
}

TEST_CASE("gasched-run --out: a file that holds results without a record of them is not "
          "overwritten",
          "[run][journal]") {
  scratch dir;
  auto tasks = dir.file("tasks.jsonl", "{\"fn\": \"test.sleep\", \"args\": [1, 1]}\n");
  auto out = dir.file("results.jsonl", "{\"line\":1,\"ok\":true,\"value\":\"precious\"}\n");
  std::string err;
  auto journal = dir.file("run.db");
  CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(tasks, journal, out)), err, dir) == 1);
  CHECK_THAT(err, Catch::Contains(out));
  CHECK_THAT(err, Catch::Contains("does not overwrite"));
  CHECK_FALSE(fs::exists(journal));  // refused before a journal was made for nothing
  auto plain = on_test_nodes({"--tasks", tasks, "--out", out, "--quiet"});
  CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, plain), err, dir) == 1);
  CHECK_THAT(err, Catch::Contains("does not overwrite"));
  CHECK(read_all(out) == "{\"line\":1,\"ok\":true,\"value\":\"precious\"}\n");
  // An empty file is no one's results: written.
  std::ofstream{out, std::ios::trunc};
  CHECK(exit_status(with({GASCHED_RUN_PROGRAM}, journaled(tasks, journal, out)), err, dir) == 0);
  CHECK_THAT(read_all(out), Catch::Contains("\"line\":1"));
}
