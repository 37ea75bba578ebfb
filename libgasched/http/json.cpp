// The JSON documents of /api/*: the stats' own field names, so that a
// document reads like gasched::stats.
#include <nlohmann/json.hpp>

#include "gasched/http.hpp"
#include "gasched/options.hpp"
#include "http/render.hpp"

namespace gasched {

namespace {

using json = nlohmann::ordered_json;

// Node names and task arguments come from the network: bytes that are not
// UTF-8 become U+FFFD instead of an exception.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json nodes_array(const stats& s) {
  auto result = json::array();
  for (auto& n : s.worker_nodes)
    result.push_back({{"node", n.node}, {"running", n.running}, {"slots", n.slots}});
  return result;
}

json events_array(const stats& s) {
  auto result = json::array();
  for (auto& e : s.node_events)
    result.push_back({{"unix_ms", e.unix_ms},
                      {"node", e.node},
                      {"kind", node_event::kind_name(e.kind)},
                      {"detail", e.detail}});
  return result;
}

// As in stats, plus the bounds and the count so that a reader needs no header.
json histogram_object(const duration_histogram& h) {
  return {{"bounds_us", duration_histogram::bounds_us},
          {"buckets", h.buckets},
          {"count", h.count()},
          {"sum_us", h.sum_us}};
}

} // namespace

std::string stats_json(const stats& s, int64_t now_unix_ms) {
  json j{{"unix_ms", now_unix_ms},
         {"ticks", s.ticks},
         {"pending", s.pending},
         {"running", s.running},
         {"worker_node_count", s.worker_node_count},
         {"max_workers", s.max_workers},
         {"max_retries", s.max_retries},
         {"max_pending", s.max_pending},
         {"prefetch", s.prefetch == gasched::adaptive_prefetch ? nlohmann::json("adaptive")
                                                       : nlohmann::json(s.prefetch)},
         {"submitted", submitted(s)},
         {"finished", finished(s)},
         {"succeeded", s.succeeded},
         {"failed", s.failed},
         {"cancelled", s.cancelled},
         {"requeued", s.requeued},
         {"reclaimed", s.reclaimed},
         {"quarantined", s.quarantined},
         {"late_results", s.late_results},
         {"node_joins", s.node_joins},
         {"node_losses", s.node_losses},
         {"node_rejoins", s.node_rejoins},
         {"slots", total_slots(s)},
         {"role", s.role},
         {"generation", s.generation},
         {"takeovers", s.takeovers},
         {"adopted", s.adopted},
         {"unadopted", s.unadopted},
         {"active", s.active},
         {"standbys", s.standbys}};
  j["worker_nodes"] = nodes_array(s);
  j["node_events"] = events_array(s);
  j["queue_wait"] = histogram_object(s.queue_wait);
  j["run_time"] = histogram_object(s.run_time);
  j["end_to_end"] = histogram_object(s.end_to_end);
  return dump(j);
}

} // namespace gasched

namespace gasched::detail::http {

using json = nlohmann::ordered_json;
using gasched::dump;

std::string nodes_json(const stats& s, int64_t now_unix_ms) {
  json j{{"unix_ms", now_unix_ms},
         {"worker_node_count", s.worker_node_count},
         {"running", s.running},
         {"slots", total_slots(s)}};
  j["nodes"] = nodes_array(s);
  j["node_events"] = events_array(s);
  return dump(j);
}

const char* to_string(task_state x) noexcept {
  return x == task_state::pending ? "pending" : x == task_state::running ? "running" : "any";
}

std::string tasks_json(const task_listing& x, task_state state, size_t limit) {
  auto total = state == task_state::pending   ? x.pending
               : state == task_state::running ? x.running
                                              : x.pending + x.running;
  auto tasks = json::array();
  for (auto& r : x.rows)
    tasks.push_back({{"state", r.running ? "running" : "pending"},
                     {"function", r.function},
                     {"args", r.args},
                     {"priority", r.priority}});
  json j{{"state", to_string(state)},
         {"pending", x.pending},
         {"running", x.running},
         {"total", total},
         {"returned", x.rows.size()},
         {"limit", limit}};
  j["tasks"] = std::move(tasks);
  return dump(j);
}

std::string error_json(const std::string& what) {
  return dump(json{{"error", what}});
}

} // namespace gasched::detail::http
