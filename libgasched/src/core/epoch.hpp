// Leases across restarts. A lease is (task id, epoch). A dispatch leaves the
// scheduler before the journal has made it durable, so after a crash the
// journal may not know the last epoch a task ran under, nor even that an id
// was issued. Each start of a scheduler on a journal is therefore a new
// generation, durable before any dispatch, and every epoch of generation g
// lies in [g << 16, (g + 1) << 16): the low 16 bits count the dispatches a
// task lost to dead nodes in this generation. An epoch of an earlier run can
// never equal a current one (unless one task loses 65,536 nodes in one run,
// or 65,536 restarts wrap the generation). Node deaths, which quarantine
// counts, are a separate count that survives restarts.
#pragma once

#include <cstdint>

namespace gasched::detail {

/// The first epoch of a generation (see above).
constexpr uint32_t epoch_base(uint32_t generation) noexcept {
  return generation << 16;
}

} // namespace gasched::detail
