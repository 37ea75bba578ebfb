// The task functions of gasched-run's default job: aggregating batch files
// of game events. The stock gasched-node offers them, confined to its data
// folder (data_dir.hpp).
#pragma once

#include <memory>

#include "data_dir.hpp"
#include "gasched/registry.hpp"

namespace gasched::examples {

/// Adds:
///   events.aggregate(string batch_file, string partial_file) -> string:
///     parses the batch (one JSON event a line), computes its partial
///     aggregate (event_aggregate.hpp) and returns it encoded
///     (event_partial.hpp).
///     When partial_file is not empty it also writes the encoded aggregate
///     there: to a temporary name first, then renamed, so a task that runs
///     twice (a requeue, a node that lost its connection but kept running)
///     leaves one whole file, never a torn one. Both paths are relative to
///     `data` (or absolute inside it); a path outside it, no `data` (or an
///     empty one), and a missing batch file are permanent failures: retrying
///     cannot change them. `data` is read when a task runs, so the node
///     program may fill it in after registering (see data_dir::from).
void add_event_tasks(registry& reg, std::shared_ptr<const data_dir> data);

} // namespace gasched::examples
