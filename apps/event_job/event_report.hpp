// The default job's summary: what the game events say (per game: players,
// daily active users, sessions, revenue, the progress funnel), where the
// work went, and whether the merged totals passed the check. As a table for
// people, or as one JSON document (--json).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "event_job/event_aggregate.hpp"
#include "event_job/event_generator.hpp"
#include "gasched_run/cluster.hpp"
#include "number_text.hpp"

namespace gasched::run {

struct event_job_summary {
  const events::aggregate* merged = nullptr;
  const events::dataset* data = nullptr;
  std::string data_dir;
  bool data_kept = false;
  const run_report* run = nullptr;
  std::map<std::string, uint64_t> events_by_node;
  enum class check_state { passed, failed, skipped } check = check_state::skipped;
  std::string check_detail;  ///< the difference, or why it was skipped
  std::string where;         ///< "2 nodes", "the scheduler at HOST:PORT"
  std::vector<std::string> unfinished;  ///< batch files with no result (a run cut short)
};

/// The summary as tables, for a terminal.
void print_event_summary(std::FILE* out, const event_job_summary& s);

/// The same as one JSON document.
nlohmann::ordered_json event_summary_json(const event_job_summary& s);

/// A run that could not complete (run->fatal): why, the unfinished tasks,
/// where the work went and what happened to the nodes.
void print_event_failure(std::FILE* out, const event_job_summary& s);

/// The same as one JSON document, "ok": false.
nlohmann::ordered_json event_failure_json(const event_job_summary& s);

} // namespace gasched::run
