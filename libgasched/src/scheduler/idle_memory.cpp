// A served scheduler runs for months between bursts of work. The heap pages
// a burst used stay resident after its tasks ended (glibc returns only the
// top of a heap by itself), so the process would sit at its busiest size:
// once idle after many tasks, it hands free pages back.
#include <malloc.h>

#include "scheduler/state.hpp"

namespace gasched::detail {

void return_memory_when_idle(scheduler_self self, size_t ended) {
  auto& st = self->state;
  st.ended_since_trim += ended;
  if (st.ended_since_trim < ended_before_trim || !st.core->idle())
    return;
  st.ended_since_trim = 0;
#ifdef __GLIBC__
  malloc_trim(0);  // a few milliseconds, and only when nothing waits
#endif
}

} // namespace gasched::detail
