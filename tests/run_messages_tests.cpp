// What the programs say when a cluster is set up wrong: each message names
// the likely cause and the option that fixes it (TLS expected or not, a
// certificate of another CA, a port in use, a wrong address, the journal of
// another run). Real processes on 127.0.0.1, one case per message.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "held_port.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using Catch::Contains;

namespace {

std::string certs_program() { return GASCHED_CERTS_PROGRAM; }

// A CA in dir/NAME with certificates for "run" and "node" under it.
std::string make_ca(const scratch& dir, const std::string& name) {
  auto ca = dir.file(name);
  std::string err;
  REQUIRE(exit_status({certs_program(), ca, "run", "node"}, err, dir) == 0);
  return ca;
}

std::string one_task(const scratch& dir) {
  return dir.file("one.jsonl", "{\"fn\": \"hello.world\", \"args\": [1]}\n");
}

// gasched-run --connect ADDRESS ...: its exit status 1, and its stderr.
std::string failed_client(const scratch& dir, const std::string& address,
                          std::vector<std::string> more = {}) {
  std::string err;
  auto argv = with({GASCHED_RUN_PROGRAM, "--connect", address, "--tasks", one_task(dir), "-q"},
                   more);
  CHECK(exit_status(argv, err, dir) == 1);
  return err;
}

// The first warning of a gasched-node that tries to --join `address`.
std::string join_warning(const scratch& dir, const std::string& address,
                         std::vector<std::string> more = {}) {
  static int n = 0;
  auto err_path = dir.file("join-" + std::to_string(++n) + ".txt");
  auto node = gasched::tools::child_process::start_logged(
    with({stock_node_program(), "--join", address}, more), err_path);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string err;
  while ((err = read_all(err_path)).find("cannot join") == std::string::npos
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);  // a file: nothing to block on but its growth
  node.signal(SIGTERM);
  CHECK(node.wait_exit(10s));
  INFO("gasched-node stderr:\n" << err);
  CHECK_THAT(err, Contains("cannot join the scheduler at " + address));
  return err;
}

// A scheduler served by gasched-run, with `args` besides --serve.
struct served {
  run_process process;
  std::string address;

  served(const scratch& dir, std::vector<std::string> args)
    : process(dir, with(std::move(args), {"--listen", "127.0.0.1:0", "--serve", "--nodes", "0",
                                          "--quiet"})),
      address(served_address(process, "127.0.0.1")) {
  }

  ~served() {
    process.signal(SIGTERM);
    process.finish();
  }
};

} // namespace

TEST_CASE("messages: no --tls towards a TLS scheduler says it uses TLS and names --tls",
          "[run][messages]") {
  scratch dir;
  auto ca = make_ca(dir, "ca");
  served sched{dir, {"--tls", ca + "/run"}};
  auto err = failed_client(dir, sched.address);
  INFO(err);
  CHECK_THAT(err, Contains("cannot connect to " + sched.address));
  CHECK_THAT(err, Contains("it most likely uses TLS, and this process has no certificate"));
  CHECK_THAT(err, Contains("--tls DIR"));
  CHECK_THAT(err, !Contains("running there"));  // it is running
  auto node = join_warning(dir, sched.address);
  CHECK_THAT(node, Contains("it most likely uses TLS"));
  CHECK_THAT(node, Contains("--tls DIR"));
}

TEST_CASE("messages: --tls towards a plain-text scheduler says it speaks plain text",
          "[run][messages]") {
  scratch dir;
  auto ca = make_ca(dir, "ca");
  served sched{dir, {}};
  auto err = failed_client(dir, sched.address, {"--tls", ca + "/run"});
  INFO(err);
  CHECK_THAT(err, Contains("the peer speaks plain text (it was started without --tls)"));
  auto node = join_warning(dir, sched.address, {"--tls", ca + "/node"});
  CHECK_THAT(node, Contains("the peer speaks plain text"));
}

TEST_CASE("messages: a certificate of another CA says the CAs differ and names --tls",
          "[run][messages]") {
  scratch dir;
  auto ca = make_ca(dir, "ca");
  auto other = make_ca(dir, "other");
  served sched{dir, {"--tls", ca + "/run"}};
  auto err = failed_client(dir, sched.address, {"--tls", other + "/run"});
  INFO(err);
  CHECK_THAT(err, Contains("the peer's certificate is not of this process's CA"));
  CHECK_THAT(err, Contains("a certificate of the same CA (--tls DIR"));
  auto node = join_warning(dir, sched.address, {"--tls", other + "/node"});
  CHECK_THAT(node, Contains("not of this process's CA"));
}

// A peer that takes the connection and resets it once the TLS handshake
// began (a scheduler dying, a proxy with nothing behind it).
struct resetting_peer {
  int listener = -1;
  std::string address;
  std::atomic<bool> stop{false};
  std::thread thread;

  resetting_peer() {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), len) == 0);
    REQUIRE(::listen(listener, 16) == 0);
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    thread = std::thread{[this] {
      while (!stop) {
        pollfd p{listener, POLLIN, 0};
        if (::poll(&p, 1, 50) != 1)
          continue;
        int c = ::accept(listener, nullptr, nullptr);
        if (c < 0)
          continue;
        pollfd q{c, POLLIN, 0};
        char hello[512];
        if (::poll(&q, 1, 2000) == 1)
          (void) ::recv(c, hello, sizeof(hello), 0);  // the ClientHello, unanswered
        linger hard{1, 0};
        ::setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
        ::close(c);  // a reset
      }
    }};
  }

  ~resetting_peer() {
    stop = true;
    thread.join();
    ::close(listener);
  }
};

TEST_CASE("messages: a peer that resets the connection mid-handshake is said to have closed it, "
          "not to hold a certificate of another CA",
          "[run][messages]") {
  scratch dir;
  auto ca = make_ca(dir, "ca");
  resetting_peer peer;
  auto err = failed_client(dir, peer.address, {"--tls", ca + "/run"});
  INFO(err);
  CHECK_THAT(err, Contains("the peer closed the connection during the TLS handshake"));
  CHECK_THAT(err, !Contains("CA"));
  auto node = join_warning(dir, peer.address, {"--tls", ca + "/node"});
  CHECK_THAT(node, Contains("the peer closed the connection during the TLS handshake"));
  CHECK_THAT(node, !Contains("CA"));
}

TEST_CASE("messages: --listen and gasched-node --port on a port in use say so and name both "
          "options, and an address not of this machine says so",
          "[run][messages]") {
  scratch dir;
  held_port taken{true};
  auto port = std::to_string(taken.port);
  std::string err;
  CHECK(exit_status({GASCHED_RUN_PROGRAM, "--listen", "127.0.0.1:" + port, "--serve", "--nodes",
                     "0", "-q"},
                    err, dir)
        == 1);
  CHECK_THAT(err, Contains("cannot listen on 127.0.0.1:" + port + ": port " + port
                           + " is in use by another process"));
  CHECK_THAT(err, Contains("--listen HOST:PORT"));
  CHECK(exit_status({stock_node_program(), "--port", port}, err, dir) == 1);
  CHECK_THAT(err, Contains("port " + port + " is in use by another process"));
  CHECK_THAT(err, Contains("gasched-node --port PORT"));
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine.
  CHECK(exit_status({GASCHED_RUN_PROGRAM, "--listen", "192.0.2.1:0", "--insecure", "--serve",
                     "--nodes", "0", "-q"},
                    err, dir)
        == 1);
  CHECK_THAT(err, Contains("192.0.2.1 is not an address of this machine"));
}

TEST_CASE("messages: a wrong address says nothing listens there, or that no such host exists",
          "[run][messages]") {
  scratch dir;
  std::string closed;
  {
    held_port bound{false};  // bound, never listening: connections are refused
    closed = "127.0.0.1:" + std::to_string(bound.port);
    auto err = failed_client(dir, closed);
    INFO(err);
    CHECK_THAT(err, Contains("nothing accepts connections at " + closed));
    CHECK_THAT(err, Contains("gasched-run --listen"));
  }
  // .invalid never resolves (RFC 6761).
  auto err = failed_client(dir, "no-such-host.invalid:7000");
  INFO(err);
  CHECK_THAT(err, Contains("no such host: no-such-host.invalid"));
  auto node = join_warning(dir, "no-such-host.invalid:7000");
  CHECK_THAT(node, Contains("no such host: no-such-host.invalid"));
}

TEST_CASE("messages: --journal of another run names the file that differs and the option to "
          "change",
          "[run][messages][journal]") {
  scratch dir;
  auto journal = dir.file("run.db");
  auto out = dir.file("out.jsonl");
  auto run = [&](const std::string& tasks, const std::string& journal_file,
                 const std::string& out_file, std::string& err) {
    return exit_status({GASCHED_RUN_PROGRAM, "--tasks", tasks, "--journal", journal_file,
                        "--out", out_file, "-q"},
                       err, dir);
  };
  std::string err;
  REQUIRE(run(one_task(dir), journal, out, err) == 0);
  auto other = dir.file("other.jsonl", "{\"fn\": \"hello.world\", \"args\": [2]}\n");
  CHECK(run(other, journal, out, err) == 1);
  CHECK_THAT(err, Contains("is not the task file of the journal's run"));
  CHECK_THAT(err, Contains("Give --tasks the file of that run, or another --journal"));
  CHECK(run(one_task(dir), journal, dir.file("elsewhere.jsonl"), err) == 1);
  CHECK_THAT(err, Contains("elsewhere.jsonl (--out) does not exist"));
  CHECK_THAT(err, Contains("give --out the file of that run, or another --journal"));
  CHECK(run(one_task(dir), one_task(dir), dir.file("third.jsonl"), err) == 1);
  CHECK_THAT(err, Contains("not a gasched journal"));
  CHECK_THAT(err, Contains("--journal FILE"));
}
