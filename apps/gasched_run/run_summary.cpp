#include "gasched_run/run_summary.hpp"

#include <fmt/format.h>

namespace gasched::run {

namespace {

using json = nlohmann::ordered_json;

std::string plural(uint64_t n, const char* word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

std::string restart_line(const run_report& run, const node_restart& r) {
  auto text = fmt::format("  at {:7.2f} s  {} (pid {}) {}{}", run.seconds_at(r.unix_ms), r.node,
                          r.old_pid, r.death, r.killed_by_us ? " by --kill-node-after" : "");
  if (r.given_up)
    return text + ": not restarted, it died too often";
  if (r.new_pid == 0)
    return text + ": restarted, but it did not come up";
  return text + fmt::format(": restarted as pid {} on port {} at {:.2f} s", r.new_pid, r.port,
                            run.seconds_at(r.up_unix_ms));
}

json restart_json(const run_report& run, const node_restart& r) {
  return json{{"node", r.node},
              {"seconds", run.seconds_at(r.unix_ms)},
              {"unix_ms", r.unix_ms},
              {"death", r.death},
              {"exit_status", r.exit_status >= 0 ? json(r.exit_status) : json(nullptr)},
              {"signal", r.signal > 0 ? json(r.signal) : json(nullptr)},
              {"by_kill_node_after", r.killed_by_us},
              {"old_pid", r.old_pid},
              {"restarted", !r.given_up && r.new_pid != 0},
              {"new_pid", r.new_pid != 0 ? json(r.new_pid) : json(nullptr)},
              {"port", r.new_pid != 0 ? json(r.port) : json(nullptr)},
              {"up_seconds", r.new_pid != 0 ? json(run.seconds_at(r.up_unix_ms)) : json(nullptr)},
              {"up_unix_ms", r.new_pid != 0 ? json(r.up_unix_ms) : json(nullptr)}};
}

void print_requeued(std::FILE* out, const run_report& run) {
  if (run.requeued > 0 && !run.killed_node.empty())
    fmt::print(out, "requeued: {} went back to the queue when {} died, and ran again\n",
               plural(run.requeued, "task"), run.killed_node);
  else
    fmt::print(out, "requeued: {}\n", plural(run.requeued, "task"));
  fmt::print(out, "late results: {} (of tasks already requeued: dropped, one result per "
                  "task)\n",
             run.late_results);
}

} // namespace

void print_cluster_summary(std::FILE* out, const run_report& run) {
  if (run.requeued_known) {
    print_requeued(out, run);
    fmt::print(out, "nodes: {} joined, {} lost, {} rejoined{}\n", run.node_joins,
               run.node_losses, run.node_rejoins,
               run.node_events.empty() ? "" : " (at: seconds since gasched-run started)");
    for (auto& e : run.node_events)
      fmt::print(out, "  at {:7.2f} s  {} {}{}\n", run.seconds_at(e.unix_ms), e.node,
                 node_event::kind_name(e.kind), e.detail.empty() ? "" : ": " + e.detail);
  }
  if (run.switches > 0)
    fmt::print(out, "scheduler switches: {} (--connect followed the active scheduler; "
                    "results dropped as duplicates of a line's: {})\n",
               run.switches, run.duplicates);
  if (!run.restarts.empty()) {
    fmt::print(out, "local node deaths: {}\n", run.restarts.size());
    for (auto& r : run.restarts)
      fmt::print(out, "{}\n", restart_line(run, r));
  }
}

void add_cluster_summary(json& out, const run_report& run) {
  auto known = [&](uint64_t n) { return run.requeued_known ? json(n) : json(nullptr); };
  out["late_results"] = known(run.late_results);
  out["node_joins"] = known(run.node_joins);
  out["node_losses"] = known(run.node_losses);
  out["node_rejoins"] = known(run.node_rejoins);
  json events = json::array();
  for (auto& e : run.node_events)
    events.push_back(json{{"seconds", run.seconds_at(e.unix_ms)},
                          {"unix_ms", e.unix_ms},
                          {"node", e.node},
                          {"event", node_event::kind_name(e.kind)},
                          {"detail", e.detail}});
  out["scheduler_switches"] = run.switches;
  out["duplicate_results"] = run.duplicates;
  out["node_events"] = events;
  json restarts = json::array();
  for (auto& r : run.restarts)
    restarts.push_back(restart_json(run, r));
  out["restarts"] = restarts;
}

json kill_json(const run_report& run) {
  json restart = nullptr;
  if (auto* r = run.kill_restart(); r && r->new_pid != 0)
    restart = json{{"seconds", run.seconds_at(r->up_unix_ms)},
                   {"unix_ms", r->up_unix_ms},
                   {"pid", r->new_pid},
                   {"port", r->port}};
  return json{{"node", run.killed_node},
              {"after_results", run.killed_after},
              {"running_then", run.killed_running},
              {"seconds", run.seconds_at(run.killed_unix_ms)},
              {"unix_ms", run.killed_unix_ms},
              {"restart", restart}};
}

std::string kill_note(const run_report& run) {
  auto text = fmt::format("killed (kill -9) after {} results, {} running on it",
                          run.killed_after, plural(run.killed_running, "task"));
  auto* r = run.kill_restart();
  if (r && r->new_pid != 0)
    text += fmt::format("; restarted at {:.2f} s as pid {}", run.seconds_at(r->up_unix_ms),
                        r->new_pid);
  else
    text += "; not restarted";
  return text;
}

} // namespace gasched::run
