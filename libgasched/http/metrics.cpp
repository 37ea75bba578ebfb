// /metrics: the scheduler's stats in the Prometheus text format.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "gasched/http.hpp"
#include "http/metrics_writer.hpp"

namespace gasched::detail::http {

std::string escape_label(const std::string& value) {
  std::string result;
  result.reserve(value.size());
  for (auto c : value) {
    if (c == '\\')
      result += "\\\\";
    else if (c == '"')
      result += "\\\"";
    else if (c == '\n')
      result += "\\n";
    else
      result += c;
  }
  return result;
}

std::string format_value(double value) {
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value))
    return "NaN";
  // Counts up to 2^53 print as integers, everything else round-trips.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0)
    return std::to_string(static_cast<int64_t>(value));
  // The shortest of %.15g, %.16g, %.17g that reads back as `value`: 0.01
  // stays "0.01" (a bucket bound is a label, compared as text).
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value)
      break;
  }
  return buf;
}

void metrics_writer::header(const std::string& name, const std::string& help,
                            const char* type) {
  out_ += "# HELP " + name + " " + help + "\n";
  out_ += "# TYPE " + name + " " + type + "\n";
}

void metrics_writer::sample(const std::string& name, const label_set& ls,
                            const std::string& value) {
  out_ += name;
  if (!ls.empty()) {
    out_ += '{';
    for (size_t i = 0; i < ls.size(); ++i) {
      if (i > 0)
        out_ += ',';
      out_ += ls[i].first + "=\"" + escape_label(ls[i].second) + '"';
    }
    out_ += '}';
  }
  out_ += ' ' + value + '\n';
}

void metrics_writer::counter(const std::string& name, const std::string& help,
                             uint64_t value) {
  header(name, help, "counter");
  sample(name, {}, std::to_string(value));  // exact beyond 2^53
}

void metrics_writer::gauge(const std::string& name, const std::string& help, double value) {
  header(name, help, "gauge");
  sample(name, {}, format_value(value));
}

void metrics_writer::gauge(const std::string& name, const std::string& help,
                           const std::vector<labelled_value>& samples) {
  header(name, help, "gauge");
  for (auto& x : samples)
    sample(name, x.labels, format_value(x.value));
}

void metrics_writer::histogram(const std::string& name, const std::string& help,
                               const histogram_data& h, const label_set& ls) {
  header(name, help, "histogram");
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
    auto with_le = ls;
    with_le.emplace_back("le", format_value(h.upper_bounds[i]));
    sample(name + "_bucket", with_le, std::to_string(h.cumulative.at(i)));
  }
  auto with_inf = ls;
  with_inf.emplace_back("le", "+Inf");
  sample(name + "_bucket", with_inf, std::to_string(h.count));
  sample(name + "_sum", ls, format_value(h.sum));
  sample(name + "_count", ls, std::to_string(h.count));
}

} // namespace gasched::detail::http

namespace gasched {

uint64_t finished(const stats& s) noexcept {
  return s.succeeded + s.failed + s.cancelled + s.quarantined;
}

uint64_t submitted(const stats& s) noexcept {
  return finished(s) + s.pending + s.running;
}

uint64_t total_slots(const stats& s) noexcept {
  uint64_t n = 0;
  for (auto& w : s.worker_nodes)
    n += w.slots;
  return n;
}

namespace {

using detail::http::labelled_value;
using detail::http::metrics_writer;

void write_counters(metrics_writer& w, const stats& s) {
  w.counter("gasched_tasks_submitted_total",
            "Tasks accepted by the scheduler (refused ones not counted).", submitted(s));
  w.counter("gasched_tasks_succeeded_total", "Tasks that ended with a value.", s.succeeded);
  w.counter("gasched_tasks_failed_total",
            "Tasks that ended with an error (cancelled and quarantined excluded).", s.failed);
  w.counter("gasched_tasks_cancelled_total", "Tasks ended by cancel.", s.cancelled);
  w.counter("gasched_tasks_quarantined_total",
            "Tasks ended because nodes died running them too often.", s.quarantined);
  w.counter("gasched_tasks_requeued_total",
            "Times a task went back to pending because its node was lost.", s.requeued);
  w.counter("gasched_tasks_reclaimed_total",
            "Tasks taken back from a stalled node before they started.", s.reclaimed);
  w.counter("gasched_late_results_total",
            "Results dropped because their lease had ended, and runs a joining node claimed "
            "that the journal does not vouch for.",
            s.late_results);
  w.counter("gasched_node_joins_total", "Nodes that came up for the first time.",
            s.node_joins);
  w.counter("gasched_node_losses_total", "Times a node was declared down.", s.node_losses);
  w.counter("gasched_node_rejoins_total", "Times a lost node came back.", s.node_rejoins);
  w.counter("gasched_takeovers_total",
            "Times a scheduler took over the shared journal from another.", s.takeovers);
}

// Schedulers sharing a journal: which one works, and since when.
void write_role(metrics_writer& w, const stats& s) {
  w.gauge("gasched_scheduler_active",
          "1 when this scheduler takes work (alone or active), 0 when it is a standby.",
          s.role == "standby" ? 0.0 : 1.0);
  w.gauge("gasched_generation",
          "The journal's generation: one more at every start or takeover (0: not shared).",
          double(s.generation));
  w.gauge("gasched_standbys", "Standby schedulers the shared journal lists.",
          double(s.standbys.size()));
  // The address as a label: which scheduler is active, seen from any of them.
  std::vector<labelled_value> active;
  if (!s.active.empty())
    active.push_back({{{"address", s.active}}, 1.0});
  w.gauge("gasched_active_scheduler",
          "1 for the active scheduler's address (HOST:PORT) as this one knows it; no sample "
          "when not shared or unknown.",
          active);
  w.counter("gasched_tasks_adopted_total",
            "Tasks running at a restart or takeover that their nodes, which kept running them, "
            "claimed (each ran once).",
            s.adopted);
  w.gauge("gasched_tasks_unadopted",
          "Tasks running at a restart or takeover still waiting for their node's claim "
          "(counted in pending too).",
          double(s.unadopted));
}

void write_gauges(metrics_writer& w, const stats& s) {
  w.gauge("gasched_tasks_pending", "Tasks waiting for a slot.", double(s.pending));
  w.gauge("gasched_tasks_running", "Tasks on nodes (with prefetch, also those waiting there).",
          double(s.running));
  w.gauge("gasched_nodes", "Nodes that are up.", double(s.worker_node_count));
  w.gauge("gasched_slots", "Slots of the nodes that are up.", double(total_slots(s)));
  w.gauge("gasched_max_workers", "Most tasks running on one node at once.",
          double(s.max_workers));
  w.gauge("gasched_max_pending", "Bound on pending tasks; 0 means unbounded.",
          double(s.max_pending));
  std::vector<labelled_value> running;
  std::vector<labelled_value> slots;
  for (auto& n : s.worker_nodes) {
    running.push_back({{{"node", n.node}}, double(n.running)});
    slots.push_back({{{"node", n.node}}, double(n.slots)});
  }
  w.gauge("gasched_node_running_tasks", "Tasks running on each node that is up.", running);
  w.gauge("gasched_node_slots", "Slots of each node that is up.", slots);
}

// Buckets made cumulative and microseconds made seconds, as Prometheus wants.
detail::http::histogram_data in_seconds(const duration_histogram& h) {
  detail::http::histogram_data result;
  uint64_t below = 0;
  for (size_t i = 0; i < duration_histogram::bounds_us.size(); ++i) {
    result.upper_bounds.push_back(double(duration_histogram::bounds_us[i]) / 1e6);
    result.cumulative.push_back(below += h.buckets[i]);
  }
  result.count = below + h.buckets.back();
  result.sum = double(h.sum_us) / 1e6;
  return result;
}

void write_histograms(metrics_writer& w, const stats& s) {
  w.histogram("gasched_task_queue_wait_seconds",
              "Tasks that ended with a result: accepted to sent to the node that gave it.",
              in_seconds(s.queue_wait));
  w.histogram("gasched_task_run_seconds",
              "Tasks that ended with a result: time in the function on the node, "
              "retries included.",
              in_seconds(s.run_time));
  w.histogram("gasched_task_duration_seconds",
              "Tasks that ended with a result: accepted to result.", in_seconds(s.end_to_end));
}

} // namespace

std::string prometheus_text(const stats& s) {
  metrics_writer w;
  write_counters(w, s);
  write_gauges(w, s);
  write_role(w, s);
  write_histograms(w, s);
  return w.text();
}

} // namespace gasched
