// Who may use a cluster, and what each peer may do: mutual TLS keeps
// strangers out; inside, the scheduler's own process and its client may do
// anything, other clients only submit and see their own tasks, and a node
// takes orders only from schedulers it serves.
#include "cluster_support.hpp"
#include "held_port.hpp"
#include "tcp_proxy.hpp"
#include "wire.hpp"

#include <caf/io/network/default_multiplexer.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <future>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace gasched;
using namespace gasched::testing;

namespace {

namespace fs = std::filesystem;

// A folder removed at the end of the test.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    char name[] = "/tmp/gasched-tls-XXXXXX";
    path = mkdtemp(name);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const {
    return (path / name).string();
  }
};

// Runs a shell command; its standard output. Fails the test when it fails.
std::string shell(const std::string& command) {
  std::string out;
  auto pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof(buf), pipe))
    out.append(buf, n);
  auto status = pclose(pipe);
  INFO(command << "\n" << out);
  REQUIRE(status == 0);
  return out;
}

void make_certs(const std::string& dir, const std::string& names) {
  shell(std::string{GASCHED_CERTS_PROGRAM} + " " + dir + " " + names);
}

caf::error init_with(const tls_options& tls) {
  caf::actor_system_config cfg;
  return init(cfg, {}, tls);
}

// gasched-test-peer's lines, one per action.
std::vector<std::string> peer(const std::vector<std::string>& args) {
  std::string command = GASCHED_TEST_PEER_PROGRAM;
  for (auto& a : args)
    command += " '" + a + "'";
  auto pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof(buf), pipe))
    out.append(buf, n);
  pclose(pipe);
  std::vector<std::string> lines;
  std::istringstream in{out};
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// The descriptors process `pid` holds open.
size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// Whether `done` holds within `limit`, polled every 20 ms.
template <class Pred>
bool within(std::chrono::milliseconds limit, Pred done) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

} // namespace

TEST_CASE("tls: init names the file that is missing, mismatched, expired or of another CA",
          "[security][tls]") {
  scratch_dir dir;
  make_certs(dir / "a", "one two");
  make_certs(dir / "b", "other");
  auto one = tls_options::from_dir(dir / "a/one");
  CHECK_FALSE(init_with(one));
  auto missing = one;
  missing.cert_file = dir / "a/one/nope.pem";
  auto err = init_with(missing);
  CHECK(is(err, errc::tls_error));
  CHECK_THAT(describe(err), Catch::Contains("nope.pem"));
  auto mismatched = one;
  mismatched.key_file = dir / "a/two/key.pem";
  err = init_with(mismatched);
  CHECK(is(err, errc::tls_error));
  CHECK_THAT(describe(err), Catch::Contains("does not match"));
  auto foreign = one;
  foreign.cert_file = dir / "b/other/cert.pem";
  foreign.key_file = dir / "b/other/key.pem";
  err = init_with(foreign);
  CHECK(is(err, errc::tls_error));
  CHECK_THAT(describe(err), Catch::Contains("not signed by the CA"));
  make_certs("--days -1 " + dir / "a", "expired");
  err = init_with(tls_options::from_dir(dir / "a/expired"));
  CHECK(is(err, errc::tls_error));
  CHECK_THAT(describe(err), Catch::Contains("expired"));
  tls_options key_only;
  key_only.key_file = one.key_file;
  CHECK(is(init_with(key_only), errc::tls_error));  // never anonymous TLS
}

TEST_CASE("tls: node processes and the scheduler talk over mutual TLS, strangers are refused",
          "[security][tls]") {
  scratch_dir dir;
  make_certs(dir / "cluster", "test node");
  make_certs(dir / "elsewhere", "intruder");
  process_cluster c{tls_options::from_dir(dir / "cluster/test"), dir / "cluster/node"};
  auto sched = c.scheduler(c.options({}));
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  c.start_joining_node("member", *port);
  REQUIRE(c.wait_for_stats(sched, [](const stats& s) { return s.worker_node_count == 1; }));
  for (int32_t id = 1; id <= 20; ++id)
    c.execute(sched, make_task("test.sleep", caf::make_message(id, int32_t{5})));
  result_summary got{c.results(20)};
  CHECK(got.each_id_once());
  CHECK(got.count_by_node["member"] == 20);
  auto p = std::to_string(*port);
  // Refused handshakes, again and again, cost the members nothing.
  for (int i = 0; i < 5; ++i) {
    auto plain = peer({"127.0.0.1", p, "stats"});
    REQUIRE_FALSE(plain.empty());
    CHECK(starts_with(plain.front(), "connect error"));
    auto foreign = peer({"--tls", dir / "elsewhere/intruder", "127.0.0.1", p, "stats"});
    REQUIRE_FALSE(foreign.empty());
    CHECK(starts_with(foreign.front(), "connect error"));
  }
  CHECK(c.get_stats(sched).node_losses == 0);
  auto member = peer({"--tls", dir / "cluster/node", "127.0.0.1", p, "stats"});
  REQUIRE_FALSE(member.empty());
  CHECK(member.front() == "stats ok 0");
  CHECK(c.get_stats(sched).worker_node_count == 1);
}

TEST_CASE("tls: a node joining a scheduler that is down keeps no descriptor of its failed attempts",
          "[security][tls]") {
  scratch_dir dir;
  make_certs(dir / "cluster", "test node");
  // What a node sees while its scheduler is killed: the proxy in front of it
  // accepts each connection and closes it, as the scheduler's port refuses.
  held_port dead{false};
  tcp_proxy proxy{dead.port};
  process_cluster c{tls_options::from_dir(dir / "cluster/test"), dir / "cluster/node"};
  c.start_joining_node("member", proxy.port());
  auto pid = c.at("member").process.pid();
  auto attempts_reach = [&](size_t n) {
    return within(std::chrono::seconds(60), [&] { return proxy.connections_accepted() >= n; });
  };
  REQUIRE(attempts_reach(3));
  // An attempt holds its socket for milliseconds: the fewest seen over half
  // a second is the count between attempts.
  auto between_attempts = [&] {
    auto fewest = open_descriptors(pid);
    for (int i = 0; i < 25; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      fewest = std::min(fewest, open_descriptors(pid));
    }
    return fewest;
  };
  auto baseline = between_attempts();
  auto first = proxy.connections_accepted();
  REQUIRE(attempts_reach(first + 10));  // a leak would show as 10 more
  CHECK(between_attempts() == baseline);
}

// CPU seconds process `pid` used so far (user and system).
double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>{in}, {}};
  std::istringstream after_name{stat.substr(stat.rfind(')') + 2)};
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && after_name >> field; ++i) {
    if (i == 14)
      utime = std::stol(field);
    if (i == 15)
      stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Connections the kernel completed on a listening socket that no one accepted.
unsigned accept_backlog(int listener) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  return ::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_unacked : 0;
}

TEST_CASE("tls: a node whose scheduler does not answer (as under kill -STOP) waits without spinning",
          "[security][tls]") {
  scratch_dir dir;
  make_certs(dir / "cluster", "test node");
  // The kernel completes each connection; no TLS answer ever comes.
  held_port silent{true};
  process_cluster c{tls_options::from_dir(dir / "cluster/test"), dir / "cluster/node"};
  c.start_joining_node("member", silent.port);
  auto pid = c.at("member").process.pid();
  // Two join attempts waiting for their handshake (CAF's heartbeat closes
  // each after a tick; the node's next attempt follows).
  REQUIRE(within(std::chrono::seconds(30), [&] { return accept_backlog(silent.fd) >= 2; }));
  auto before = cpu_seconds(pid);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(4));  // the span measured
  auto used = cpu_seconds(pid) - before;
  auto span = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("CPU " << used << " s in " << span << " s");
  CHECK(used < 0.1 * span);  // a spin takes 12-100 % of a core, growing per attempt
}

// CAF 0.17 squashes the registration changes of one socket made in one round
// of its event loop; a connection closed in the round that opened it (as
// CAF's heartbeat tick closes a connection still in its handshake) was never
// told it left the loop and kept its socket open forever.
TEST_CASE("network: a connection closed in the event-loop round that opened it keeps no descriptor",
          "[cluster][network]") {
  process_cluster c;
  auto& mpx = static_cast<caf::io::network::default_multiplexer&>(c.sys().middleman().backend());
  int ends[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
  int ours = ends[0];
  int peer = ends[1];
  std::promise<void> done;
  mpx.dispatch([&] {
    auto s = mpx.new_scribe(ours);
    s->configure_read(caf::io::receive_policy::at_most(1024));  // starts reading
    s->graceful_shutdown();                                      // and stops, same round
    done.set_value();
  });
  REQUIRE(done.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  // Closed once the round ends: the peer's writes then fail. A socket only
  // shut down for writing (graceful_shutdown's FIN) still takes them.
  auto closed = within(std::chrono::seconds(10), [&] {
    char byte = 'x';
    return ::send(peer, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EPIPE;
  });
  ::close(peer);
  CHECK(closed);
}

TEST_CASE("privileges: a remote client may submit and see its own tasks, nothing more",
          "[security]") {
  process_cluster c;
  auto sched = c.scheduler(c.options({}));  // no node yet: tasks stay pending
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto mine = c.execute(sched, make_task("test.sleep", caf::make_message(int32_t{1},
                                                                         int32_t{10})));
  std::vector<std::string> args;
  if (!test_tls_dir().empty())
    args = {"--tls", test_tls_dir() + "/node"};
  auto theirs_id = std::to_string(mine + 1);
  for (std::string a : {std::string{"127.0.0.1"}, std::to_string(*port)})
    args.push_back(a);
  for (std::string a : {std::string{"stats"}, std::string{"execute"}, std::string{"unfinished"},
                        "await:" + std::to_string(mine),
                        "cancel:" + std::to_string(mine), "cancel:" + theirs_id,
                        std::string{"stop"}, std::string{"set_max_workers"},
                        std::string{"set_retry_timeout"}, std::string{"add_node"},
                        std::string{"note"}, std::string{"read_note"},
                        std::string{"exit"}, std::string{"stats"}})
    args.push_back(a);
  auto lines = peer(args);
  INFO("peer said:\n" << [&] {
    std::string all;
    for (auto& l : lines)
      all += l + "\n";
    return all;
  }());
  REQUIRE(lines.size() == 14);
  CHECK(lines[0] == "stats ok 1");
  CHECK(lines[1] == "execute ok " + theirs_id);
  CHECK(lines[2] == "unfinished ok 1");  // its own only
  CHECK(starts_with(lines[3], "await:" + std::to_string(mine) + " error gasched::not_allowed"));
  CHECK(starts_with(lines[4], "cancel:" + std::to_string(mine) + " error gasched::not_allowed"));
  CHECK(lines[5] == "cancel:" + theirs_id + " ok ");
  for (size_t i = 6; i <= 11; ++i)
    CHECK_THAT(lines[i], Catch::Contains("error gasched::not_allowed"));
  CHECK(lines[12] == "exit sent");
  CHECK(lines[13] == "stats ok 1");
  // Intact: the scheduler still runs, and our task finishes once a node comes.
  auto s = c.get_stats(sched);
  CHECK(s.pending == 1);
  CHECK(s.cancelled == 1);
  CHECK(s.max_workers == 10);
  for (auto& n : c.start_nodes(1))
    REQUIRE(c.ask<caf::ok_atom>(sched, add_node_atom::value, n));
  auto results = c.results(2);  // the cancel of theirs, then ours
  CHECK(results.back().id == mine);
  CHECK(results.back().ok());
}

TEST_CASE("privileges: a node takes orders only from a scheduler it serves, within its slots",
          "[security]") {
  cluster c;
  node_options strict;
  strict.name = "strict";
  strict.slots = 4;
  strict.serve_any = false;
  auto node = spawn_node(c.sys(), c.reg(), strict);
  auto orders = [](int32_t n, uint32_t capacity) {
    detail::run_batch b;
    b.capacity = capacity;
    b.policy.max_retries = 1;
    for (int32_t i = 1; i <= n; ++i)
      b.orders.push_back(
        detail::run_order{static_cast<task_id>(i), 0, "test.concurrent", caf::make_message(5)});
    return b;
  };
  auto outcomes = [&](size_t n) {
    std::vector<detail::run_outcome> got;
    c.self()->receive_while([&] { return got.size() < n; })(
      [&](done_atom, detail::done_batch& b) {
        for (auto& o : b.outcomes)
          got.push_back(std::move(o));
      },
      caf::after(std::chrono::seconds(20)) >> [&] { FAIL("outcomes did not arrive"); });
    return got;
  };
  // Greeting does not make a scheduler of a stranger when the node serves
  // only the one it joined.
  REQUIRE(c.ask<detail::node_info>(node, hello_atom::value));
  c.self()->send(node, run_atom::value, orders(3, 0));
  for (auto& o : outcomes(3))
    CHECK(is(o.error, errc::not_allowed));
  // A node handed by address serves whoever greets it, within its slots.
  node_options open = strict;
  open.name = "open";
  open.serve_any = true;
  auto handed = spawn_node(c.sys(), c.reg(), open);
  c.self()->send(handed, run_atom::value, orders(2, 0));  // no greeting yet
  for (auto& o : outcomes(2))
    CHECK(is(o.error, errc::not_allowed));
  REQUIRE(c.ask<detail::node_info>(handed, hello_atom::value));
  c.self()->send(handed, run_atom::value, orders(400, 0));  // capacity 0: "no limit"
  int32_t peak = 0;
  for (auto& o : outcomes(400)) {
    REQUIRE_FALSE(o.error);
    peak = std::max(peak, o.value.get_as<int32_t>(0));
  }
  CHECK(peak <= 4);
  c.self()->send_exit(node, caf::exit_reason::user_shutdown);
  c.self()->send_exit(handed, caf::exit_reason::user_shutdown);
}

TEST_CASE("privileges: a remote client awaits its own task by id after it ended (journal)",
          "[security]") {
  scratch_dir dir;
  process_cluster c;
  auto opts = c.options({});  // no node: a task ends only when cancelled
  opts.journal = dir / "journal.db";
  auto sched = c.scheduler(opts);
  auto port = publish(c.sys(), sched, 0);
  REQUIRE(port);
  auto mine = c.execute(sched, make_task("test.sleep", caf::make_message(int32_t{1},
                                                                         int32_t{10})));
  auto theirs = std::to_string(mine + 1);
  std::vector<std::string> args;
  if (!test_tls_dir().empty())
    args = {"--tls", test_tls_dir() + "/node"};
  for (std::string a : {std::string{"127.0.0.1"}, std::to_string(*port), std::string{"execute"},
                        "cancel:" + theirs, "await:" + theirs, "await:" + theirs,
                        "await:" + std::to_string(mine)})
    args.push_back(a);
  auto lines = peer(args);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "execute ok " + theirs);
  CHECK(lines[1] == "cancel:" + theirs + " ok ");
  // Ended and delivered to the scheduler's client: its owner may still ask.
  CHECK(lines[2] == "await:" + theirs + " ok ");
  CHECK(lines[3] == "await:" + theirs + " ok ");
  CHECK(starts_with(lines[4], "await:" + std::to_string(mine) + " error gasched::not_allowed"));
}
