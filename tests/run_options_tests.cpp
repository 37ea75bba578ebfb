// What the programs make of their command lines: usage errors exit 2 with a
// clear message, runtime failures exit 1, --caf# reaches CAF.
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;

TEST_CASE("gasched-run: usage errors exit 2 with a clear message", "[run]") {
  scratch dir;
  SECTION("a missing task file") {
    run_process run{dir, {"--tasks", dir.file("missing.jsonl")}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("missing.jsonl") != std::string::npos);
  }
  SECTION("--nodes 0 without --listen") {
    run_process run{dir, {"--nodes", "0"}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--listen") != std::string::npos);
  }
  SECTION("--nodes out of range") {
    run_process run{dir, {"--nodes", "100"}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--nodes") != std::string::npos);
  }
  SECTION("--connect with --kill-node-after") {
    run_process run{dir, {"--connect", "127.0.0.1:1", "--kill-node-after", "3"}};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--kill-node-after") != std::string::npos);
    CHECK(run.err().find("--connect") != std::string::npos);
  }
  SECTION("a node program that does not exist") {
    run_process run{dir, with(small_job, {"--node-program", dir.file("no-such-node")})};
    CHECK(run.finish() == 1);
    CHECK(run.err().find("no-such-node") != std::string::npos);
  }
}

TEST_CASE("gasched-run --caf#: CAF options reach the actor system, a bad key exits 2",
          "[run]") {
  scratch dir;
  SECTION("a known key") {
    run_process run{dir, with(small_job, {"--caf#middleman.connection-timeout=3s"})};
    auto status = run.finish();
    INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
    CHECK(status == 0);
    CHECK(run.all_out().find("check: OK") != std::string::npos);
  }
  SECTION("a key with an effect: the process runs as many CAF threads as asked") {
    // gasched-run runs one CAF worker thread and 7 threads in all unless
    // told otherwise: 24 workers are seen in /proc, or the option was lost.
    auto slow = dir.file("slow.jsonl", "{\"fn\": \"test.sleep\", \"args\": [1, 60000]}\n");
    run_process run{dir, on_test_nodes({"--tasks", slow, "--quiet",
                                        "--caf#scheduler.max-threads=24"})};
    auto threads = [&] {
      std::error_code gone;  // it ended: no threads
      fs::directory_iterator task{"/proc/" + std::to_string(run.pid()) + "/task", gone};
      return gone ? 0 : std::distance(task, fs::directory_iterator{});
    };
    auto deadline = std::chrono::steady_clock::now() + 30s;
    auto seen = threads();
    while (seen < 24 + 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);  // threads start without a word: no event to wait on
      seen = threads();
    }
    INFO("stderr:\n" << run.err());
    CHECK(seen >= 24 + 2);  // the workers, main and CAF's clock at least
    run.signal(SIGTERM);
    run.finish();
  }
  SECTION("an unknown key") {
    run_process run{dir, with(small_job, {"--caf#no.such-key=1"})};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("no.such-key") != std::string::npos);
  }
  SECTION("an argument that is neither") {
    run_process run{dir, with(small_job, {"--no-such-option"})};
    CHECK(run.finish() == 2);
    CHECK(run.err().find("--no-such-option") != std::string::npos);
  }
}

TEST_CASE("every program maps usage errors to exit 2 and runtime failures to exit 1",
          "[run][exit]") {
  scratch dir;
  std::string err;
  for (auto program : {stock_node_program(), std::string{GASCHED_NODE_PROGRAM}}) {
    INFO(program);
    // Each refusal names what it refused.
    CHECK(exit_status({program, "--no-such-option"}, err, dir) == 2);
    CHECK(err.find("--no-such-option") != std::string::npos);
    CHECK(exit_status({program, "--port", "abc"}, err, dir) == 2);
    CHECK(err.find("--port") != std::string::npos);
    CHECK(err.find("abc") != std::string::npos);
    CHECK(exit_status({program, "--data-dir", dir.file("missing")}, err, dir) == 2);
    CHECK(err.find("missing") != std::string::npos);
    CHECK(exit_status({program, "--join", "nohostport"}, err, dir) == 2);
    CHECK(err.find("nohostport") != std::string::npos);
    CHECK(exit_status({program, "--host", "0.0.0.0"}, err, dir) == 2);
    CHECK(err.find("0.0.0.0") != std::string::npos);
    CHECK(err.find("--tls") != std::string::npos);  // what would make it safe
    CHECK(exit_status({program, "--help"}, err, dir) == 0);
    CHECK(exit_status({program, "--tls", dir.file("no-certs")}, err, dir) == 1);
    CHECK(err.find("ca.pem") != std::string::npos);
    // A value of gasched's own settings that CAF's type check lets through.
    CHECK(exit_status({program, "--caf#gasched.io-actors=fast"}, err, dir) == 2);
    CHECK(err.find("gasched.io-actors=fast: it takes idle or never") != std::string::npos);
  }
  auto run = std::string{GASCHED_RUN_PROGRAM};
  CHECK(exit_status({run, "--no-such-option"}, err, dir) == 2);
  CHECK(err.find("--no-such-option") != std::string::npos);
  CHECK(exit_status({run, "--nodes", "abc"}, err, dir) == 2);
  CHECK(err.find("--nodes") != std::string::npos);
  CHECK(err.find("abc") != std::string::npos);
  CHECK(exit_status({run, "--listen", "1.2.3.4:99999"}, err, dir) == 2);
  CHECK(err.find("--listen") != std::string::npos);
  CHECK(err.find("1.2.3.4:99999") != std::string::npos);
  CHECK(exit_status({run, "--tasks", dir.file("")}, err, dir) == 2);
  CHECK(err.find("is a folder") != std::string::npos);
  CHECK(exit_status({run, "--help"}, err, dir) == 0);
  CHECK(exit_status({run, "--tls", dir.file("no-certs")}, err, dir) == 1);
  CHECK(err.find(dir.file("no-certs")) != std::string::npos);
  CHECK(exit_status({run, "--caf#gasched.io-actors=fast"}, err, dir) == 2);
  CHECK(err.find("gasched.io-actors=fast: it takes idle or never") != std::string::npos);
}

TEST_CASE("gasched-node refuses a bad worker restart intensity, naming the option and the "
          "value",
          "[run][options]") {
  scratch dir;
  std::string err;
  for (auto program : {stock_node_program(), std::string{GASCHED_NODE_PROGRAM}}) {
    INFO(program);
    CHECK(exit_status({program, "--worker-restart-period", "0"}, err, dir) == 2);
    CHECK(err.find("--worker-restart-period") != std::string::npos);
    CHECK(err.find("not in range 1 to 86400000") != std::string::npos);
    CHECK(exit_status({program, "--worker-restart-period", "10s"}, err, dir) == 2);
    CHECK(err.find("--worker-restart-period") != std::string::npos);
    CHECK(err.find("10s") != std::string::npos);
    CHECK(exit_status({program, "--worker-restarts", "-1"}, err, dir) == 2);
    CHECK(err.find("--worker-restarts") != std::string::npos);
    CHECK(err.find("-1") != std::string::npos);
    CHECK(exit_status({program, "--worker-restarts", "2000000"}, err, dir) == 2);
    CHECK(err.find("--worker-restarts") != std::string::npos);
    CHECK(err.find("2000000") != std::string::npos);
  }
}

namespace {

// The help of `option` in `program --help`: its description, without the
// column it starts in or its default (the programs' defaults may differ).
std::string help_of(const std::string& program, const std::string& option) {
  auto help = gasched::tools::child_process::start({program, "--help"});
  std::vector<std::string> lines;
  while (auto line = help.read_line(20s))
    lines.push_back(*line);
  CHECK(help.wait_exit(10s));
  std::regex alone{"^ *" + option + "( [^ ]+)?$"};  // the description on the next line
  std::regex declared{"^ *" + option + "( [^ ]+)? +(.+)$"};
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_search(lines[i], alone) && i + 1 < lines.size())
      return std::regex_replace(lines[i + 1], std::regex{"^ +"}, "");
    if (std::regex_search(lines[i], m, declared))
      return m[2].str();
  }
  FAIL(program << " --help has no " << option);
  return {};
}

} // namespace

TEST_CASE("every program declares the process settings once: the same help in gasched-node, "
          "gasched-run and gasched-ctl",
          "[run][options]") {
  auto run = std::string{GASCHED_RUN_PROGRAM};
  auto ctl = (fs::path{run}.parent_path() / "gasched-ctl").string();
  for (auto option : {"--heartbeat", "--heartbeat-timeout", "--tls", "--insecure", "--threads"}) {
    INFO(option);
    auto node_help = help_of(stock_node_program(), option);
    CHECK_FALSE(node_help.empty());
    CHECK(help_of(run, option) == node_help);
  }
  CHECK(help_of(ctl, "--tls") == help_of(run, "--tls"));
  CHECK(help_of(stock_node_program(), "--log") == "gasched's log level, on stderr");
}
