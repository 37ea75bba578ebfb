#include "event_job/event_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gasched_run/run_summary.hpp"

namespace gasched::run {

namespace {

using json = nlohmann::ordered_json;
using events::game_totals;
using events::stage_count;
using events::stage_names;

std::string money(int64_t cents) {
  auto sign = cents < 0 ? "-" : "";
  auto abs = static_cast<uint64_t>(cents < 0 ? -cents : cents);
  return fmt::format("{}${}.{:02}", sign, with_commas(abs / 100), abs % 100);
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.0f}%", 100.0 * part / whole);
}

struct game_row {
  uint64_t players = 0;
  double avg_dau = 0;
  uint64_t peak_dau = 0;
};

// DAU averages over every day of the data set, quiet days included.
game_row row_of(const game_totals& g, size_t days) {
  game_row r;
  r.players = g.players().size();
  uint64_t sum = 0;
  for (auto& [day, ids] : g.active_by_day) {
    sum += ids.size();
    r.peak_dau = std::max<uint64_t>(r.peak_dau, ids.size());
  }
  r.avg_dau = days == 0 ? 0 : static_cast<double>(sum) / days;
  return r;
}

// Every day that has an event in any game, as [first, last].
std::pair<int32_t, int32_t> day_range(const events::aggregate& a) {
  int32_t first = INT32_MAX, last = INT32_MIN;
  for (auto& [name, g] : a.games)
    for (auto& [day, ids] : g.active_by_day) {
      first = std::min(first, day);
      last = std::max(last, day);
    }
  return {first, last};
}

// Where the work went, then what happened to the nodes.
void print_work_by_node(std::FILE* out, const event_job_summary& s) {
  auto& run = *s.run;
  fmt::print(out, "\n{:<16} {:>9} {:>12} {:>6}\n", "work by node", "tasks", "events", "share");
  for (auto& [node, tally] : run.by_node) {
    auto events = s.events_by_node.count(node) ? s.events_by_node.at(node) : 0;
    std::string note;
    if (node == run.killed_node)
      note = "  " + kill_note(run);
    if (tally.failed > 0)
      note += fmt::format("  ({} failed)", tally.failed);
    fmt::print(out, "{:<16} {:>9} {:>12} {:>6}{}\n", node.empty() ? "(none)" : node,
               with_commas(tally.succeeded + tally.failed), with_commas(events),
               percent(events, s.merged->events), note);
  }
  if (!run.killed_node.empty() && run.by_node.count(run.killed_node) == 0)
    fmt::print(out, "{:<16} {:>9} {:>12} {:>6}  {}\n", run.killed_node, 0, 0, "0%",
               kill_note(run));
  print_cluster_summary(out, run);
}

// tasks, nodes, killed, and the cluster's events.
void add_run_json(json& out, const event_job_summary& s) {
  auto& run = *s.run;
  json nodes = json::array();
  for (auto& [node, tally] : run.by_node)
    nodes.push_back(json{{"node", node},
                         {"succeeded", tally.succeeded},
                         {"failed", tally.failed},
                         {"events", s.events_by_node.count(node) ? s.events_by_node.at(node) : 0},
                         {"killed", node == run.killed_node}});
  out["tasks"] = json{{"total", run.total},
                      {"succeeded", run.succeeded},
                      {"failed", run.failed},
                      {"unfinished", run.unfinished()},
                      {"requeued", run.requeued_known ? json(run.requeued) : json(nullptr)}};
  out["nodes"] = nodes;
  if (!run.killed_node.empty())
    out["killed"] = kill_json(run);
  add_cluster_summary(out, run);
}

// Per game and for all games: players, daily active users, sessions,
// purchases, revenue.
void print_games_table(std::FILE* out, const events::aggregate& m, size_t days) {
  fmt::print(out, "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} {:>13}\n", "game", "players",
             "avg DAU", "peak DAU", "sessions", "purchases", "revenue");
  game_totals all;
  game_row total;
  for (auto& [name, g] : m.games) {
    auto r = row_of(g, days);
    fmt::print(out, "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} {:>13}\n", name,
               with_commas(r.players), with_commas(static_cast<uint64_t>(r.avg_dau + 0.5)),
               with_commas(r.peak_dau), with_commas(g.sessions), with_commas(g.purchases),
               money(g.revenue_cents));
    total.players += r.players;  // player ids are per game: the sum is distinct
    total.avg_dau += r.avg_dau;
    all.sessions += g.sessions;
    all.purchases += g.purchases;
    all.revenue_cents += g.revenue_cents;
  }
  std::map<int32_t, uint64_t> dau_all;
  for (auto& [name, g] : m.games)
    for (auto& [day, ids] : g.active_by_day)
      dau_all[day] += ids.size();
  for (auto& [day, n] : dau_all)
    total.peak_dau = std::max(total.peak_dau, n);
  fmt::print(out, "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} {:>13}\n", "all games",
             with_commas(total.players), with_commas(static_cast<uint64_t>(total.avg_dau + 0.5)),
             with_commas(total.peak_dau), with_commas(all.sessions), with_commas(all.purchases),
             money(all.revenue_cents));
}

// Per game: the players who reached each stage.
void print_funnel(std::FILE* out, const events::aggregate& m) {
  fmt::print(out, "\n{:<16}", "funnel");
  for (auto* stage : stage_names)
    fmt::print(out, " {:>12}", stage);
  fmt::print(out, "   (players reaching each stage)\n");
  for (auto& [name, g] : m.games) {
    auto players = g.players().size();
    fmt::print(out, "{:<16}", name);
    for (size_t i = 0; i < stage_count; ++i)
      fmt::print(out, " {:>12}",
                 fmt::format("{} {:>4}", with_commas(g.reached[i].size()),
                             percent(g.reached[i].size(), players)));
    fmt::print(out, "\n");
  }
}

// The check's outcome, and where and how fast the tasks ran.
void print_check_and_run(std::FILE* out, const event_job_summary& s) {
  auto& run = *s.run;
  using state = event_job_summary::check_state;
  fmt::print(out, "\n");
  if (s.check == state::passed)
    fmt::print(out, "check: OK, the merged totals equal a single-process computation of the "
                    "same {} files\n",
               with_commas(s.data->batch_files.size()));
  else if (s.check == state::failed)
    fmt::print(out, "check: FAILED, the merged totals differ from a single-process "
                    "computation: {}\n",
               s.check_detail);
  else
    fmt::print(out, "check: skipped ({})\n", s.check_detail);
  auto rate = run.seconds > 0 ? static_cast<double>(run.total) / run.seconds : 0.0;
  fmt::print(out, "{} tasks on {} in {:.2f} s ({:.0f} tasks/s); data {} {}\n",
             with_commas(run.total), s.where, run.seconds, rate, s.data_dir,
             s.data_kept ? "(kept)" : "(removed)");
}

} // namespace

void print_event_summary(std::FILE* out, const event_job_summary& s) {
  auto& m = *s.merged;
  auto [first, last] = day_range(m);
  size_t days = first <= last ? static_cast<size_t>(last - first + 1) : 0;
  fmt::print(out, "\nGame events {} to {}: {} events in {} batch files",
             days ? events::day_label(first) : "-", days ? events::day_label(last) : "-",
             with_commas(m.events), with_commas(m.batches));
  fmt::print(out, " ({} malformed lines skipped)\n\n", with_commas(m.malformed));
  print_games_table(out, m, days);
  print_funnel(out, m);
  print_work_by_node(out, s);
  print_check_and_run(out, s);
  std::fflush(out);
}

nlohmann::ordered_json event_summary_json(const event_job_summary& s) {
  auto& m = *s.merged;
  auto& run = *s.run;
  auto [first, last] = day_range(m);
  size_t days = first <= last ? static_cast<size_t>(last - first + 1) : 0;
  json games = json::array();
  for (auto& [name, g] : m.games) {
    auto r = row_of(g, days);
    json dau = json::object();
    for (auto& [day, ids] : g.active_by_day)
      dau[events::day_label(day)] = ids.size();
    json funnel = json::object();
    for (size_t i = 0; i < stage_count; ++i)
      funnel[stage_names[i]] = g.reached[i].size();
    games.push_back(json{{"game", name},
                         {"events", g.events},
                         {"players", r.players},
                         {"avg_dau", r.avg_dau},
                         {"peak_dau", r.peak_dau},
                         {"dau", dau},
                         {"sessions", g.sessions},
                         {"purchases", g.purchases},
                         {"revenue_cents", g.revenue_cents},
                         {"funnel", funnel}});
  }
  using state = event_job_summary::check_state;
  auto check = s.check == state::passed ? "passed" : s.check == state::failed ? "failed" : "skipped";
  json out;
  out["job"] = "game-events";
  out["ok"] = run.complete() && run.failed == 0 && s.check != state::failed;
  out["data"] = json{{"dir", s.data_dir},
                     {"kept", s.data_kept},
                     {"batch_files", s.data->batch_files.size()},
                     {"lines", s.data->lines},
                     {"first_day", days ? events::day_label(first) : ""},
                     {"last_day", days ? events::day_label(last) : ""}};
  out["events"] = m.events;
  out["malformed_lines"] = m.malformed;
  out["games"] = games;
  add_run_json(out, s);
  out["check"] = json{{"result", check}, {"detail", s.check_detail}};
  out["seconds"] = run.seconds;
  return out;
}

void print_event_failure(std::FILE* out, const event_job_summary& s) {
  auto& run = *s.run;
  fmt::print(out, "\nGame events: the run could not complete: {}\n", run.fatal);
  fmt::print(out, "unfinished: {} of {} tasks", with_commas(s.unfinished.size()),
             with_commas(run.total));
  for (size_t i = 0; i < s.unfinished.size() && i < 10; ++i)
    fmt::print(out, "{} {}", i == 0 ? ":" : ",", s.unfinished[i]);
  fmt::print(out, "{}\n", s.unfinished.size() > 10 ? ", ..." : "");
  print_work_by_node(out, s);
  fmt::print(out, "{} of {} tasks done on {} in {:.2f} s; data {} {}\n",
             with_commas(run.succeeded + run.failed), with_commas(run.total), s.where,
             run.seconds, s.data_dir, s.data_kept ? "(kept)" : "(removed)");
  std::fflush(out);
}

json event_failure_json(const event_job_summary& s) {
  json out;
  out["job"] = "game-events";
  out["ok"] = false;
  out["error"] = s.run->fatal;
  out["data"] = json{{"dir", s.data_dir}, {"kept", s.data_kept}};
  add_run_json(out, s);
  out["unfinished"] = s.unfinished;
  out["seconds"] = s.run->seconds;
  return out;
}

} // namespace gasched::run
