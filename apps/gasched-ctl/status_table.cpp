#include "status_table.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "gasched/http.hpp"
#include "gasched/options.hpp"

namespace gasched::ctl {

namespace {

// "14:03:07", local time.
std::string clock_text(int64_t unix_ms) {
  auto t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return buf;
}

std::string load_bar(uint32_t running, uint32_t slots, size_t width) {
  if (slots == 0)
    return std::string(width, '.');
  auto filled = std::min<size_t>(width, (size_t{running} * width + slots - 1) / slots);
  return std::string(filled, '#') + std::string(width - filled, '.');
}

std::string task_lines(const stats& s, std::optional<double> rate) {
  auto out = fmt::format("{:>10} {:>10} {:>12} {:>8} {:>10} {:>9} {:>12} {:>6}\n", "pending",
                         "running", "succeeded", "failed", "cancelled", "requeued",
                         "quarantined", "late");
  out += fmt::format("{:>10} {:>10} {:>12} {:>8} {:>10} {:>9} {:>12} {:>6}\n",
                     with_commas(s.pending), with_commas(s.running), with_commas(s.succeeded),
                     with_commas(s.failed), with_commas(s.cancelled), with_commas(s.requeued),
                     with_commas(s.quarantined), with_commas(s.late_results));
  out += fmt::format("submitted {}, finished {}", with_commas(submitted(s)),
                     with_commas(finished(s)));
  if (rate)
    out += fmt::format(", {:.1f} tasks/s", *rate);
  out += fmt::format("; max_workers {}, prefetch {}, max_pending {}\n", s.max_workers,
                     s.prefetch == gasched::adaptive_prefetch ? std::string{"adaptive"}
                                                     : std::to_string(s.prefetch),
                     s.max_pending ? with_commas(s.max_pending) : "unbounded");
  return out;
}

std::string node_lines(const stats& s) {
  auto out = fmt::format("\nnodes: {} up, {} slots; {} joins, {} losses, {} rejoins\n",
                         s.worker_node_count, with_commas(total_slots(s)), s.node_joins,
                         s.node_losses, s.node_rejoins);
  if (s.worker_nodes.empty())
    return out;
  auto nodes = s.worker_nodes;
  std::sort(nodes.begin(), nodes.end(),
            [](const node_load& a, const node_load& b) { return a.node < b.node; });
  size_t name_width = 4;
  for (auto& n : nodes)
    name_width = std::max(name_width, n.node.size());
  out += fmt::format("{:<{}} {:>8} {:>6}  load\n", "node", name_width, "running", "slots");
  for (auto& n : nodes)
    out += fmt::format("{:<{}} {:>8} {:>6}  {}\n", n.node, name_width, n.running, n.slots,
                       load_bar(n.running, n.slots, 20));
  return out;
}

std::string event_lines(const stats& s) {
  if (s.node_events.empty())
    return {};
  std::string out = "\nrecent node events\n";
  auto shown = std::min<size_t>(s.node_events.size(), 8);
  for (auto i = s.node_events.size() - shown; i < s.node_events.size(); ++i) {
    auto& e = s.node_events[i];
    out += fmt::format("{}  {:<8} {}{}\n", clock_text(e.unix_ms), node_event::kind_name(e.kind),
                       e.node, e.detail.empty() ? "" : ": " + e.detail);
  }
  return out;
}

// Which scheduler of those sharing a journal this is ("role alone" when
// none shares it).
std::string role_line(const stats& s) {
  auto out = "role " + s.role;
  if (s.role == "alone" && s.generation == 0)
    return out + "\n";
  out += fmt::format(", generation {}, {} takeover{}", s.generation, s.takeovers,
                     s.takeovers == 1 ? "" : "s");
  if (!s.active.empty())
    out += "; active at " + s.active;
  std::string standbys;
  for (auto& a : s.standbys)
    standbys += (standbys.empty() ? "" : ", ") + a;
  return out + "; standbys: " + (standbys.empty() ? "none" : standbys) + "\n";
}

} // namespace

std::string status_table(const stats& s, const std::string& address, int64_t unix_ms,
                         std::optional<double> rate) {
  auto out = fmt::format("gasched scheduler at {}, {}\n", address, clock_text(unix_ms));
  out += role_line(s) + "\n";
  out += task_lines(s, rate);
  out += node_lines(s);
  out += event_lines(s);
  return out;
}

} // namespace gasched::ctl
