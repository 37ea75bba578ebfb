// The default job's data: a deterministic synthetic data set of game events,
// written as batch files of JSON lines, the way event collectors hand them
// to a batch pipeline (each file a slice of time, with events of every game
// and many players in it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gasched::events {

struct dataset_spec {
  uint32_t games = 6;       ///< games, named space-miners, farm-frenzy, ...
  uint32_t players = 2500;  ///< players per game who may join during the period
  uint32_t days = 7;        ///< days of events, from 2024-01-01 (UTC)
  uint32_t batches = 240;   ///< batch files; events are split evenly by time
  uint64_t seed = 1;        ///< the same seed gives the same files, byte for byte
};

struct dataset {
  std::vector<std::string> batch_files;  ///< in time order
  uint64_t lines = 0;      ///< lines written, malformed ones included
  uint64_t malformed = 0;  ///< lines deliberately broken, as real streams have some
  uint64_t bytes = 0;
};

/// Writes the data set's batch files into `dir` (created if missing) as
/// batch-0001.jsonl, ... One line is one event:
///   {"ts":1704096000,"game":"space-miners","player":17,"type":"session_start"}
/// with types session_start, session_end (+"seconds"), design (+"event"),
/// progress (+"stage") and purchase (+"item", "amount_cents"). About one line
/// in 5,000 is truncated. `stop` is asked between files; when it answers
/// true, generation ends early (the result then lists fewer files).
/// Throws std::runtime_error when a file cannot be written.
dataset generate(const dataset_spec& spec, const std::string& dir,
                 const std::function<bool()>& stop = {});

} // namespace gasched::events
