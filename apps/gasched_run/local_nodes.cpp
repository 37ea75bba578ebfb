#include "gasched_run/local_nodes.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace gasched::run {

namespace {

namespace fs = std::filesystem;

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// The bytes of `path` from `offset` to its end.
std::string read_from(const std::string& path, uint64_t offset) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return {};
  in.seekg(static_cast<std::streamoff>(offset));
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

std::string make_temp_dir() {
  auto pattern = (fs::temp_directory_path() / "gasched-run-nodes-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary folder in "
                             + fs::temp_directory_path().string());
  return pattern;
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

local_nodes::~local_nodes() {
  nodes_.clear();  // kills what still runs before its files go
  if (remove_logs_ && !opts_.log_dir.empty()) {
    std::error_code ignored;
    fs::remove_all(opts_.log_dir, ignored);
  }
}

void local_nodes::launch(const launch_options& opts, uint32_t count) {
  if (count > 0 && access(opts.program.c_str(), X_OK) != 0)
    throw std::runtime_error("cannot run the node program " + opts.program
                             + " (pass --node-program PATH)");
  opts_ = opts;
  if (count == 0)
    return;
  if (opts_.log_dir.empty()) {
    opts_.log_dir = make_temp_dir();
    remove_logs_ = true;
  } else {
    fs::create_directories(opts_.log_dir);
  }
  for (uint32_t i = 1; i <= count; ++i) {
    node n;
    n.name = "node-" + std::to_string(i);
    n.log_path = opts_.log_dir + "/" + n.name + ".log";
    start(n, 0);
    nodes_.push_back(std::move(n));
  }
}

void local_nodes::start(node& n, uint16_t port) {
  std::vector<std::string> argv{opts_.program, "--port", std::to_string(port), "--host",
                                "127.0.0.1", "--name", n.name, "--slots",
                                std::to_string(opts_.slots), "--log", opts_.log};
  argv.insert(argv.end(), opts_.extra.begin(), opts_.extra.end());
  n.log_start = file_size(n.log_path);
  n.process = tools::child_process::start_logged(argv, n.log_path);
  n.pid = n.process.pid();
  n.killed = false;
  n.death.reset();
  n.death_reported = false;
}

std::optional<uint16_t> local_nodes::await_port(node& n, std::chrono::milliseconds timeout,
                                                std::string& why) {
  // "gasched-node NAME listening on HOST:PORT"
  auto line = n.process.read_line(std::max(timeout, std::chrono::milliseconds(1)));
  auto colon = line ? line->rfind(':') : std::string::npos;
  if (line && line->find(" listening on ") != std::string::npos && colon != std::string::npos)
    return static_cast<uint16_t>(std::stoi(line->substr(colon + 1)));
  why = line ? "it said: " + *line : "it said nothing in time";
  if (auto status = n.process.wait_exit(std::chrono::milliseconds(100))) {
    n.death = *status;
    why = tools::describe_exit(*status);
  }
  return std::nullopt;
}

void local_nodes::ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& n : nodes_) {
    if (n.port != 0)
      continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    std::string why;
    if (auto port = await_port(n, left, why)) {
      n.port = *port;
      continue;
    }
    std::string said;
    for (auto& line : stderr_tail(n, 5))
      said += "\n  " + line;
    throw std::runtime_error("node process " + n.name + " did not start (" + why + ")"
                             + (said.empty() ? "; run it alone to see why: " + opts_.program
                                                 + " --port 0 --log warning"
                                             : "; its stderr ends with:" + said));
  }
}

bool local_nodes::restart(node& n, std::chrono::milliseconds timeout) {
  auto old_port = n.port;
  std::string why;
  start(n, old_port);
  auto port = await_port(n, timeout, why);
  if (!port && old_port != 0 && n.death) {
    // Most likely its port is taken now: any free one will do.
    start(n, 0);
    port = await_port(n, timeout, why);
  }
  if (port) {
    n.port = *port;
    return true;
  }
  if (!n.death) {  // hung while booting
    n.process.signal(SIGKILL);
    n.death = n.process.wait_exit(std::chrono::seconds(5)).value_or(SIGKILL);
  }
  return false;
}

local_nodes::node* local_nodes::find(const std::string& name) {
  for (auto& n : nodes_)
    if (n.name == name)
      return &n;
  return nullptr;
}

void local_nodes::kill(node& n) {
  n.process.signal(SIGKILL);
  n.process.signal(SIGCONT);  // a stopped process dies only once it runs
  auto status = n.process.wait_exit(std::chrono::seconds(5));
  if (!status)
    n.process.kill();
  n.death = status.value_or(SIGKILL);  // a wait status of "killed by signal 9"
  n.killed = true;
}

std::vector<local_nodes::node*> local_nodes::reap_exited() {
  std::vector<node*> result;
  for (auto& n : nodes_) {
    if (!n.death && n.process.running())
      if (auto status = n.process.wait_exit(std::chrono::milliseconds(0)))
        n.death = *status;
    if (n.death && !n.death_reported) {
      n.death_reported = true;
      result.push_back(&n);
    }
  }
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

std::vector<std::string> local_nodes::stderr_tail(const node& n, size_t count) const {
  // The last 64 KiB hold far more than `count` lines of any log.
  auto size = file_size(n.log_path);
  auto from = std::max<uint64_t>(n.log_start, size > 65536 ? size - 65536 : 0);
  auto text = read_from(n.log_path, from);
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto end = nl == std::string::npos ? text.size() : nl;
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  if (lines.size() > count)
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  return lines;
}

std::vector<std::string> local_nodes::new_log_lines(bool all) {
  std::vector<std::string> lines;
  for (auto& n : nodes_) {
    auto text = read_from(n.log_path, n.log_shown);
    size_t at = 0;
    for (;;) {
      auto nl = text.find('\n', at);
      if (nl == std::string::npos && (!all || at >= text.size()))
        break;
      auto end = nl == std::string::npos ? text.size() : nl;
      lines.push_back("[" + n.name + "] " + text.substr(at, end - at));
      at = end + 1;
    }
    n.log_shown += std::min(at, text.size());
  }
  return lines;
}

} // namespace gasched::run
