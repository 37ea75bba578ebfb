// The scheduler's side of its journal: commits batch every change of a
// drained mailbox into one transaction, and hold back what must not be
// promised before it is on disk.
#include <algorithm>

#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {

void schedule_commit(scheduler_self self) {
  auto& st = self->state;
  if (!st.journal || st.commit_scheduled)
    return;
  st.commit_scheduled = true;
  self->send(self, commit_atom::value);
}

namespace {

// Tasks whose arguments the journal cannot keep: refused, as if never accepted.
void refuse(scheduler_self self) {
  auto& st = self->state;
  for (auto& [id, why] : st.journal->take_refused()) {
    if (auto t = st.core->cancel(id))
      log(log_level::warning, "scheduler {}: task {} refused: {}", st.label, id, describe(why));
    for (auto& [acked, rp] : st.unacked)
      if (acked == id)
        rp.deliver(why);
    st.unsent.erase(std::remove_if(st.unsent.begin(), st.unsent.end(),
                                   [&](const task_result& r) { return r.id == id; }),
                    st.unsent.end());
  }
  st.unacked.erase(std::remove_if(st.unacked.begin(), st.unacked.end(),
                                  [](auto& x) { return !x.second.pending(); }),
                   st.unacked.end());
}

// Answers and results that the commit made true.
void release(scheduler_self self) {
  auto& st = self->state;
  auto durable = st.journal->durable_id();
  auto keep = st.unacked.begin();
  for (auto& entry : st.unacked)
    if (entry.first <= durable && entry.second.pending())
      entry.second.deliver(entry.first);
    else if (entry.second.pending())
      *keep++ = std::move(entry);
  st.unacked.erase(keep, st.unacked.end());
  for (auto& [ids, rp] : st.unacked_batches)
    rp.deliver(std::move(ids));  // a batch is committed in one transaction
  st.unacked_batches.clear();
  auto results = std::move(st.unsent);
  st.unsent.clear();
  for (auto& r : results)
    deliver_now(self, std::move(r));
}

} // namespace

void commit(scheduler_self self) {
  auto& st = self->state;
  st.commit_scheduled = false;
  if (!st.journal)
    return;
  refuse(self);
  if (auto err = st.journal->commit()) {
    // A full disk, say: nothing is lost that was promised; try again soon.
    if (!st.commit_failing)
      log(log_level::error, "scheduler {}: journal {}: {}; retrying", st.label,
          st.journal->path(), describe(err));
    st.commit_failing = true;
    st.commit_scheduled = true;
    self->delayed_send(self, std::chrono::milliseconds(100), commit_atom::value);
    return;
  }
  if (st.commit_failing)
    log(log_level::warning, "scheduler {}: journal {} writes again", st.label,
        st.journal->path());
  st.commit_failing = false;
  release(self);
}

caf::expected<task_result> kept_result(scheduler_self self, task_id id) {
  auto& st = self->state;
  auto r = st.journal->result_of(id);
  if (!r)
    return std::move(r.error());
  return std::move(*r).to_result(st.label);
}

} // namespace gasched::detail
