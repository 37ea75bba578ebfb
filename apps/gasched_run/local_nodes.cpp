#include "gasched_run/local_nodes.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace gasched::run {

namespace {

std::string describe_status(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string{"killed by signal "} + strsignal(WTERMSIG(status));
  return "ended";
}

} // namespace

std::string default_node_program() {
  char self[PATH_MAX];
  auto n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return {};
  std::string path{self, static_cast<size_t>(n)};
  auto slash = path.rfind('/');
  return path.substr(0, slash + 1) + "gasched-node";
}

void local_nodes::launch(const std::string& program, uint32_t count, uint32_t slots,
                         const std::string& log, bool quiet) {
  if (count > 0 && access(program.c_str(), X_OK) != 0)
    throw std::runtime_error("cannot run the node program " + program
                             + " (pass --node-program PATH)");
  for (uint32_t i = 1; i <= count; ++i) {
    node n;
    n.name = "node-" + std::to_string(i);
    std::vector<std::string> argv{program, "--port", "0", "--host", "127.0.0.1",
                                  "--name", n.name, "--slots", std::to_string(slots),
                                  "--log", log};
    n.process = tools::child_process::start(argv, quiet);
    n.pid = n.process.pid();
    nodes_.push_back(std::move(n));
  }
}

void local_nodes::ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& n : nodes_) {
    if (n.port != 0)
      continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    // "gasched-node NAME listening on HOST:PORT"
    auto line = n.process.read_line(std::max(left, std::chrono::milliseconds(1)));
    auto colon = line ? line->rfind(':') : std::string::npos;
    if (!line || line->find(" listening on ") == std::string::npos
        || colon == std::string::npos) {
      std::string why = line ? "it said: " + *line : "it said nothing in time";
      if (auto status = n.process.wait_exit(std::chrono::milliseconds(100)))
        why = describe_status(*status);
      throw std::runtime_error("node process " + n.name + " did not start (" + why
                               + "); run it alone to see why: "
                               + "gasched-node --port 0 --log warning");
    }
    n.port = static_cast<uint16_t>(std::stoi(line->substr(colon + 1)));
  }
}

local_nodes::node* local_nodes::find(const std::string& name) {
  for (auto& n : nodes_)
    if (n.name == name)
      return &n;
  return nullptr;
}

void local_nodes::kill(node& n) {
  n.process.kill();
  n.killed = true;
}

std::vector<local_nodes::node*> local_nodes::reap_exited() {
  std::vector<node*> result;
  for (auto& n : nodes_) {
    if (n.killed || n.exited)
      continue;
    if (auto status = n.process.wait_exit(std::chrono::milliseconds(0))) {
      n.exited = true;
      n.exit_text = describe_status(*status);
      result.push_back(&n);
    }
  }
  return result;
}

size_t local_nodes::alive() const {
  size_t result = 0;
  for (auto& n : nodes_)
    if (!n.killed && !n.exited)
      ++result;
  return result;
}

size_t local_nodes::stop_all(std::chrono::milliseconds grace) {
  size_t stopped = 0;
  for (auto& n : nodes_)
    if (n.process.running()) {
      n.process.signal(SIGTERM);
      ++stopped;
    }
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& n : nodes_) {
    if (!n.process.running())
      continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (!n.process.wait_exit(std::max(left, std::chrono::milliseconds(0))))
      n.process.kill();
  }
  return stopped;
}

} // namespace gasched::run
