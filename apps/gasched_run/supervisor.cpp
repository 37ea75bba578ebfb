#include "gasched_run/supervisor.hpp"

#include <sys/wait.h>

#include <fmt/format.h>

#include "gasched_run/progress.hpp"

namespace gasched::run {

namespace {

using clock = std::chrono::steady_clock;

node_restart death_of(const local_nodes::node& n) {
  node_restart r;
  r.node = n.name;
  r.unix_ms = unix_ms_now();
  auto status = n.death.value_or(0);
  r.death = tools::describe_exit(status);
  r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.killed_by_us = n.killed;
  r.old_pid = n.pid;
  return r;
}

} // namespace

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

supervisor::supervisor(local_nodes& nodes, restart_policy policy, progress& display)
  : nodes_(nodes), policy_(policy), display_(display) {
}

std::vector<std::string> supervisor::check() {
  std::vector<std::string> up;
  if (!fatal_.empty())
    return up;
  for (auto* n : nodes_.reap_exited()) {
    auto r = death_of(*n);
    if (!within_intensity(n->name, clock::now())) {
      give_up(*n, r);
      return {};
    }
    if (!r.killed_by_us)  // --kill-node-after has said so already
      display_.notice(fmt::format("{} (pid {}) {}; its tasks go back to the queue", r.node,
                                  r.old_pid, r.death));
    // Synchronous and bounded: the new process is up (or known dead) when
    // restart() returns; no sleep stands in for its "listening on" line.
    if (nodes_.restart(*n)) {
      r.new_pid = n->pid;
      r.port = n->port;
      r.up_unix_ms = unix_ms_now();
      up.push_back(n->name);
      display_.notice(fmt::format("restarted {} as pid {} on port {} (restart {} of at most {} "
                                  "in {} s)",
                                  r.node, r.new_pid, r.port, recent_[r.node].size(),
                                  policy_.max_restarts, policy_.window.count()));
    } else {
      display_.notice(fmt::format("{} did not start again ({})", r.node,
                                  tools::describe_exit(n->death.value_or(0))));
    }
    restarts_.push_back(std::move(r));
  }
  return up;
}

bool supervisor::within_intensity(const std::string& node, clock::time_point now) {
  auto& recent = recent_[node];
  while (!recent.empty() && now - recent.front() >= policy_.window)
    recent.pop_front();
  if (recent.size() >= policy_.max_restarts)
    return false;
  recent.push_back(now);
  return true;
}

void supervisor::give_up(local_nodes::node& n, const node_restart& death) {
  auto restarted = recent_[n.name].size();
  auto text = fmt::format("giving up on {}: it died{} (pid {}, {}) after {} restart{} in the "
                          "last {} s, and --max-restarts {} --restart-window {} allow no more",
                          n.name, restarted == 0 ? "" : " again", death.old_pid, death.death,
                          restarted, restarted == 1 ? "" : "s", policy_.window.count(),
                          policy_.max_restarts, policy_.window.count());
  auto tail = nodes_.stderr_tail(n);
  if (tail.empty()) {
    text += "; it wrote nothing on stderr";
  } else {
    nodes_.keep_logs();  // the message points into them
    text += fmt::format(". The end of its stderr ({}):", n.log_path);
    for (auto& line : tail)
      text += "\n  | " + line;
  }
  display_.error(text);
  fatal_ = fmt::format("{} {} after {} restart{} in {} s (--max-restarts {})", n.name,
                       death.death, restarted, restarted == 1 ? "" : "s",
                       policy_.window.count(), policy_.max_restarts);
  auto record = death;
  record.given_up = true;
  restarts_.push_back(std::move(record));
}

} // namespace gasched::run
