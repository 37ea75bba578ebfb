// What scheduler_core counts: its part of stats, and what a journal keeps
// across restarts (journal_snapshot::count).
#pragma once

#include <cstdint>

namespace gasched::detail {

struct core_counters {
  uint64_t ticks = 0;  // times a task left running
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t cancelled = 0;
  uint64_t requeued = 0;
  uint64_t quarantined = 0;
  uint64_t late_results = 0;  // not journaled: a restart starts it at 0
};

} // namespace gasched::detail
