// The default job: game events aggregated across node processes.
//
//   1. generate the data set (batch files of JSON events) while the node
//      processes boot;
//   2. one task per batch file, events.aggregate, on the nodes: each returns
//      its batch's partial aggregate (and writes it to partials/ by
//      write-then-rename, so a task that runs twice does no harm);
//   3. merge the partials as they arrive -- exactly, sets of players are
//      united, so no player is counted twice across batches;
//   4. check: the merge must equal the aggregate of all files computed in
//      this one process;
//   5. print the summary.
#pragma once

namespace gasched::run {

struct options;
class progress;
class stop_signals;

/// Returns the exit code: 0 when every task succeeded and the check passed.
int run_event_job(const options& opts, progress& display, stop_signals& signals);

} // namespace gasched::run
