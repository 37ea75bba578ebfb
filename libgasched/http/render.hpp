// Internal: the JSON documents of /api/nodes and /api/tasks (/api/stats is
// gasched::stats_json, public for gasched-ctl).
#pragma once

#include <cstdint>
#include <string>

#include "gasched/stats.hpp"
#include "http/query.hpp"

namespace gasched::detail::http {

/// {"unix_ms", "worker_node_count", "running", "slots", "nodes": [...], "node_events": [...]}
std::string nodes_json(const stats& s, int64_t now_unix_ms);

/// {"state", "pending", "running", "total", "returned", "limit", "tasks": [...]}
std::string tasks_json(const task_listing& x, task_state state, size_t limit);

/// "pending", "running" or "any".
const char* to_string(task_state x) noexcept;

/// {"error": what}
std::string error_json(const std::string& what);

} // namespace gasched::detail::http
