// Standby schedulers as a team runs them, end to end: gasched-run --serve
// schedulers on one throw-away PostgreSQL journal, gasched-node processes
// that joined every scheduler (--join A,B,C), and a gasched-run --connect
// A,B,C client with a task file, all real processes. The active is killed
// (kill -9) and hung (kill -STOP beyond its lease) mid-batch; each faulted
// scheduler comes back as a standby, as systemd restarts it. The nodes record
// every start of every task (test.record), and at each fault the test reads
// from the journal which tasks were dispatched durably and not ended: those
// must run exactly once (their nodes live, so the new active adopts them or
// takes the outcome the node kept for it).
#include <map>
#include <regex>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <httplib.h>

#include "gasched/gasched.hpp"
#include "held_port.hpp"
#include "journal/blob.hpp"
#include "journal/pg_blocks.hpp"
#include "journal/pg_db.hpp"
#include "out_check.hpp"
#include "pg_support.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched;
using namespace gasched::run_test;

namespace {

// A child that exited and is not reaped yet: a zombie (state Z).
bool exited(pid_t pid) {
  auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto end = stat.rfind(')');  // after the command's name, which may hold anything
  return end != std::string::npos && end + 2 < stat.size() && stat[end + 2] == 'Z';
}

// Schedulers at fixed addresses on one journal, nodes joining all of them.
struct ha_cluster : pg_cluster {
  explicit ha_cluster(size_t schedulers) : pg_cluster(schedulers) {
  }

  // Scheduler i, as a user starts it; waits until it says its role.
  std::string serve(size_t i) {
    return pg_cluster::serve(i, {"--advertise", addresses[i], "--slots", "4", "--lease-time",
                                 "1s"});
  }

  void start_nodes(size_t n) {
    pg_cluster::start_nodes(n, {"--slots", "4"});
  }

  // Waits until one of `candidates` is active at `generation` or a later
  // one; its index, and `generation` set to its.
  size_t await_active(const std::vector<size_t>& candidates, int64_t& generation) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      for (auto i : candidates)
        if (auto s = stats_of(i); s && s->role == "active" && s->generation >= generation) {
          generation = s->generation;
          return i;
        }
      if (std::chrono::steady_clock::now() >= deadline)
        FAIL("no scheduler became active at generation " << generation << " in 30 s");
      std::this_thread::sleep_for(20ms);  // roles are polled: no message says when
    }
  }

  // The scheduler active now (the latest generation), whether or not a fault
  // of the test made it so: an active that cannot renew its lease in time (9
  // processes built -O0 with AddressSanitizer on 2 cores can stall it longer
  // than the 1 s lease) is replaced, as it must be, and steps down. A
  // scheduler that stepped down so is started again as a standby, as its
  // service manager would.
  size_t active_now(int64_t& generation) {
    for (size_t i = 0; i < servers.size(); ++i)
      if (servers[i] && exited(servers[i]->pid())) {
        auto status = servers[i]->finish(30s);
        WARN("scheduler " << addresses[i] << " exited (status " << status
                          << ") without a fault of the test; its stderr:\n" << servers[i]->err());
        servers[i].reset();
        CHECK(serve(i).find("role: standby") != std::string::npos);
      }
    std::vector<size_t> all(servers.size());
    for (size_t i = 0; i < all.size(); ++i)
      all[i] = i;
    return await_active(all, generation);
  }

  // Waits until scheduler i has `n` nodes; its stats then.
  stats await_nodes(size_t i, uint32_t n) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto s = stats_of(i);
      if (s && s->worker_node_count == n)
        return *s;
      if (std::chrono::steady_clock::now() >= deadline)
        FAIL("scheduler " << addresses[i] << " has " << (s ? s->worker_node_count : 0)
                          << " nodes, not " << n << ", after 20 s");
      std::this_thread::sleep_for(20ms);  // nodes join by themselves: polled
    }
  }

  // The lines (test.record's first argument) of the tasks the journal shows
  // dispatched and not ended now: those a takeover must not run again.
  std::set<int> durable_running() {
    detail::pg_db db;
    REQUIRE(!db.connect(url));
    detail::pg_rows r;
    // Running: a state row says so (pg_store.hpp); ended: in a block's ends.
    std::set<task_id> running;
    REQUIRE(!db.exec("SELECT id FROM gasched_states WHERE state = 1", "read the running tasks",
                     &r));
    for (int i = 0; i < r.rows(); ++i)
      running.insert(static_cast<task_id>(r.int64(i, 0)));
    REQUIRE(!db.exec("SELECT ids FROM gasched_done", "read the ended tasks", &r));
    for (int i = 0; i < r.rows(); ++i) {
      auto ids = r.bytes(i, 0);
      for (size_t k = 0; k + 8 <= ids.size(); k += 8)
        running.erase(detail::get_u64(ids.data() + k));
    }
    REQUIRE(!db.exec("SELECT tasks FROM gasched_news", "read the tasks", &r));
    std::set<int> lines;
    for (int i = 0; i < r.rows(); ++i) {
      auto bytes = r.bytes(i, 0);
      detail::news_entry e;
      for (size_t at = 0; at < bytes.size();) {
        REQUIRE(detail::next_news(bytes.data(), bytes.size(), at, e));
        if (running.count(e.id) == 0)
          continue;
        caf::message args;
        REQUIRE(!detail::load_blob(*sys, e.args.data, e.args.size, args));
        lines.insert(args.get_as<int32_t>(0));
      }
    }
    return lines;
  }

  // `lines` tasks of `ms` each, recorded on start.
  std::string task_file(int lines, int ms) {
    std::string text;
    for (int i = 1; i <= lines; ++i)
      text += "{\"fn\": \"test.record\", \"args\": [" + std::to_string(i) + ", "
              + std::to_string(ms) + ", \"" + record + "\"]}\n";
    return dir.file("tasks-" + std::to_string(lines) + ".jsonl", text);
  }
};

std::vector<size_t> others(size_t n, size_t except) {
  std::vector<size_t> result;
  for (size_t i = 0; i < n; ++i)
    if (i != except)
      result.push_back(i);
  return result;
}

} // namespace

TEST_CASE("pg done: three schedulers, three nodes --join A,B,C, a --connect A,B,C client "
          "with 3,000 tasks, the active killed (kill -9) twice and hung (kill -STOP) once: "
          "the client exits 0, --out holds each line once, the nodes end on the last active, "
          "every task dispatched durably before a takeover ran once",
          "[pg][standby][done]") {
  ha_cluster c{3};
  CHECK(c.serve(0).find("role: active, generation 1") != std::string::npos);
  for (size_t i : {1, 2})
    CHECK(c.serve(i).find("role: standby") != std::string::npos);
  c.start_nodes(3);
  c.await_nodes(0, 3);
  // 3,000 tasks of 25 ms on 3 nodes of 4 slots: about 6 s of work, so the
  // faults fall mid-batch.
  const int n = 3000;
  auto out = c.dir.file("out.jsonl");
  run_process client{c.dir, {"--connect", c.all(), "--tasks", c.task_file(n, 25), "--out", out,
                             "-q"}};
  size_t active = 0;
  int64_t generation = 1;
  std::set<int> durable;  // over every takeover
  const std::pair<int, int> faults[] = {{600, SIGKILL}, {1400, SIGSTOP}, {2200, SIGKILL}};
  for (auto [at, fault] : faults) {
    await_lines(out, at, client);
    if (auto now = c.active_now(generation); now != active) {
      WARN("scheduler " << c.addresses[now] << " took over from " << c.addresses[active]
                        << " without a fault of the test (generation " << generation << ")");
      active = now;
    }
    INFO("fault " << (fault == SIGKILL ? "kill -9" : "kill -STOP") << " of " << c.addresses[active]
                  << " after " << at << " results");
    // Stopped first in both cases: nothing more commits while the journal
    // is read, and the lease (1 s) outlasts the read. Then killed, or left
    // hung beyond its lease.
    auto& victim = *c.servers[active];
    kill(victim.pid(), SIGSTOP);
    auto now = c.durable_running();
    CHECK(!now.empty());  // the fault hits tasks in flight
    durable.insert(now.begin(), now.end());
    if (fault == SIGKILL)
      kill(victim.pid(), SIGKILL);
    REQUIRE(line_count(out) < static_cast<size_t>(n));
    auto next = c.await_active(others(3, active), ++generation);
    c.await_nodes(next, 3);
    if (fault == SIGSTOP) {
      // Woken beyond its lease: it may not commit again, so it steps down.
      kill(victim.pid(), SIGCONT);
      auto status = victim.finish(30s);
      INFO("stderr of the woken one:\n" << victim.err());
      CHECK(status != 0);
      CHECK(victim.err().find("stepping down") != std::string::npos);
    }
    c.servers[active].reset();  // reaps it
    // Back as a standby, as its service manager would start it again.
    CHECK(c.serve(active).find("role: standby") != std::string::npos);
    active = next;
  }
  auto status = client.finish(60s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 0);
  check_each_line_once(out, n);
  // The nodes end on the last active, which counts every takeover: the
  // test's three, and any the load made (active_now says so).
  active = c.active_now(generation);
  auto last = c.await_nodes(active, 3);
  CHECK(last.role == "active");
  CHECK(last.generation == generation);
  CHECK(last.takeovers >= 3);
  CHECK(last.takeovers == static_cast<uint64_t>(generation - 1));
  std::set<std::string> names;
  for (auto& w : last.worker_nodes)
    names.insert(w.node);
  CHECK(names == std::set<std::string>{"n1", "n2", "n3"});
  // Every task ran; those the journal vouched for at a fault exactly once.
  auto runs = executions(c.record);
  CHECK(runs.size() == static_cast<size_t>(n));
  int again = starts_again(runs);
  INFO(again << " tasks started twice; " << durable.size() << " were dispatched durably at a "
       "fault");
  for (auto line : durable) {
    INFO("task " << line << ", dispatched durably before a takeover");
    CHECK(runs[line] == 1);
  }
  for (auto& s : c.servers) {
    s->signal(SIGTERM);
    CHECK(s->finish(30s) == 0);
  }
}

TEST_CASE("pg done: standbys started before, during and after a batch each become standbys, "
          "and the one started last takes over a second batch: each line's result once",
          "[pg][standby][done]") {
  ha_cluster c{4};
  CHECK(c.serve(0).find("role: active, generation 1") != std::string::npos);
  CHECK(c.serve(1).find("role: standby") != std::string::npos);  // before
  c.start_nodes(2);
  c.await_nodes(0, 2);
  const int n = 1000;  // 40 ms on 2 nodes of 4 slots: about 5 s, a standby starts in 1
  auto out = c.dir.file("out-1.jsonl");
  {
    run_process client{c.dir, {"--connect", c.all(), "--tasks", c.task_file(n, 40), "--out",
                               out, "-q"}};
    await_lines(out, n / 5, client);
    CHECK(c.serve(2).find("role: standby") != std::string::npos);  // during
    CHECK(line_count(out) < static_cast<size_t>(n));
    auto status = client.finish(60s);
    INFO("the client's stderr:\n" << client.err());
    CHECK(status == 0);
    check_each_line_once(out, n);
  }
  CHECK(c.serve(3).find("role: standby") != std::string::npos);  // after
  for (size_t i : {1, 2, 3}) {
    auto s = c.stats_of(i);
    REQUIRE(s);
    CHECK(s->role == "standby");
    CHECK(s->active == c.addresses[0]);
  }
  // Only the one started last is left to take over.
  for (size_t i : {1, 2}) {
    c.servers[i]->signal(SIGTERM);
    CHECK(c.servers[i]->finish(30s) == 0);
    c.servers[i].reset();
  }
  std::remove(c.record.c_str());
  auto out2 = c.dir.file("out-2.jsonl");
  run_process client{c.dir, {"--connect", c.all(), "--tasks", c.task_file(n, 20), "--out", out2,
                             "-q"}};
  await_lines(out2, n / 3, client);
  kill(c.servers[0]->pid(), SIGSTOP);
  auto durable = c.durable_running();
  kill(c.servers[0]->pid(), SIGKILL);
  c.servers[0].reset();
  int64_t generation = 2;
  REQUIRE(c.await_active({3}, generation) == 3);
  auto status = client.finish(60s);
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 0);
  check_each_line_once(out2, n);
  auto last = c.await_nodes(3, 2);
  CHECK(last.takeovers == 1);
  auto runs = executions(c.record);
  CHECK(runs.size() == static_cast<size_t>(n));
  starts_again(runs);
  for (auto line : durable) {
    INFO("task " << line << ", dispatched durably before the takeover");
    CHECK(runs[line] == 1);
  }
  c.servers[3]->signal(SIGTERM);
  CHECK(c.servers[3]->finish(30s) == 0);
}

namespace {

// GET `path` from the dashboard at `port`: the status and body.
std::pair<int, std::string> http_get(uint16_t port, const std::string& path) {
  httplib::Client cli{"127.0.0.1", port};
  cli.set_read_timeout(10, 0);
  auto r = cli.Get(path.c_str());
  if (!r)
    return {0, {}};
  return {r->status, r->body};
}

uint16_t dashboard_port(const run_process& client) {
  auto err = await_err(client, std::regex{R"(dashboard at http://127\.0\.0\.1:[0-9]+/)"});
  REQUIRE(err);
  std::smatch m;
  REQUIRE(std::regex_search(*err, m, std::regex{R"(dashboard at http://127\.0\.0\.1:([0-9]+)/)"}));
  return static_cast<uint16_t>(std::stoi(m[1]));
}

} // namespace

TEST_CASE("pg done: gasched-run --connect A,B --http: after a takeover the dashboard shows the "
          "scheduler the client follows",
          "[pg][standby][follow]") {
  ha_cluster c{2};
  CHECK(c.serve(0).find("role: active") != std::string::npos);
  CHECK(c.serve(1).find("role: standby") != std::string::npos);
  c.start_nodes(1);
  c.await_nodes(0, 1);
  const int n = 400;  // 20 ms on 4 slots: about 2 s
  auto out = c.dir.file("out.jsonl");
  run_process client{c.dir, {"--connect", c.all(), "--tasks", c.task_file(n, 20), "--out", out,
                             "--http", "127.0.0.1:0", "-q"}};
  auto port = dashboard_port(client);
  await_lines(out, n / 4, client);
  kill(c.servers[0]->pid(), SIGKILL);
  c.servers[0].reset();
  REQUIRE(await_err(client, std::regex{"; following " + c.addresses[1]}));
  auto [status, body] = http_get(port, "/api/stats");
  INFO(body);
  REQUIRE(status == 200);
  auto stats = nlohmann::json::parse(body);
  CHECK(stats["role"] == "active");
  CHECK(stats["active"] == c.addresses[1]);
  CHECK(stats["generation"] == 2);
  CHECK(client.finish(60s) == 0);
  check_each_line_once(out, n);
  c.servers[1]->signal(SIGTERM);
  CHECK(c.servers[1]->finish(30s) == 0);
}

TEST_CASE("pg done: Ctrl-C while gasched-run --connect searches for an active scheduler ends "
          "it at once, not when the search gives up",
          "[pg][standby][follow]") {
  ha_cluster c{1};
  held_port refusing{false};  // the list's second address: nothing there
  CHECK(c.serve(0).find("role: active") != std::string::npos);
  c.start_nodes(1);
  c.await_nodes(0, 1);
  const int n = 400;
  auto out = c.dir.file("out.jsonl");
  auto list = c.all() + ",127.0.0.1:" + std::to_string(refusing.port);
  run_process client{c.dir, {"--connect", list, "--tasks", c.task_file(n, 20), "--out", out,
                             "-q"}};
  await_lines(out, 20, client);
  kill(c.servers[0]->pid(), SIGKILL);
  c.servers[0].reset();
  // Searching: it gives up only after a minute.
  REQUIRE(await_err(client, std::regex{"searching [^\n]* for the active one"}));
  client.signal(SIGINT);
  auto status = client.finish(10s);  // the search checks every 50 ms, an address in 2 s
  INFO("the client's stderr:\n" << client.err());
  CHECK(status == 128 + SIGINT);
}
