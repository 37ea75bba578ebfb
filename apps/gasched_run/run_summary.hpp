// What a run's summary says about the cluster, for every job: tasks
// requeued, late results, nodes that joined, were lost and rejoined (with
// their times), local nodes restarted by supervision, and the
// --kill-node-after demonstration. In the table, times are seconds since
// gasched-run started; in JSON, the same and milliseconds since 1970.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "gasched_run/cluster.hpp"

namespace gasched::run {

/// The lines under the "work by node" table.
void print_cluster_summary(std::FILE* out, const run_report& run);

/// Adds late_results, node_joins, node_losses, node_rejoins, node_events and
/// restarts to a JSON summary (the counts null when the scheduler is remote).
void add_cluster_summary(nlohmann::ordered_json& out, const run_report& run);

/// The --kill-node-after kill as JSON: node, after_results, running_then,
/// unix_ms, seconds, restart (null when it was not restarted).
nlohmann::ordered_json kill_json(const run_report& run);

/// The note next to the killed node in a table: "killed (kill -9) after 8
/// results, 2 tasks running on it; restarted at 0.61 s as pid 4242".
std::string kill_note(const run_report& run);

} // namespace gasched::run
