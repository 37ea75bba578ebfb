// --tasks FILE: the user's tasks, one JSON object a line; each result a JSON
// line on stdout. Malformed lines are reported with their line number (on
// stderr, and as a result line) and the other tasks still run.
#pragma once

namespace gasched::run {

struct options;
class progress;
class stop_signals;

/// Returns the exit code: 0 when every line was a task and every task succeeded.
int run_task_job(const options& opts, progress& display, stop_signals& signals);

/// --serve: no job; serves joining nodes and remote clients until a signal.
int run_serve(const options& opts, progress& display, stop_signals& signals);

} // namespace gasched::run
