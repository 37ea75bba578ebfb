// The task functions of gasched-run's default job: aggregating batch files
// of game events. They live in the example registry so that a stock
// gasched-node runs them.
#pragma once

#include "gasched/registry.hpp"

namespace gasched::examples {

/// Adds:
///   events.aggregate(string batch_file, string partial_file) -> string:
///     parses the batch (one JSON event a line), computes its partial
///     aggregate (gasched_run/event_aggregate.hpp) and returns it encoded.
///     When partial_file is not empty it also writes the encoded aggregate
///     there: to a temporary name first, then renamed, so a task that runs
///     twice (a requeue, a node that lost its connection but kept running)
///     leaves one whole file, never a torn one. A missing batch file is a
///     permanent failure (retrying cannot make it appear).
void add_event_tasks(registry& reg);

} // namespace gasched::examples
