// The scheduler's side of its journal: commits batch every change of a
// drained mailbox into one transaction, and hold back what must not be
// promised before it is on disk.
#include <algorithm>

#include <caf/send.hpp>

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

void drop_results_of(held_for_commit& held, task_id id) {
  auto& rs = held.results;
  rs.erase(std::remove_if(rs.begin(), rs.end(), [&](const task_result& r) { return r.id == id; }),
           rs.end());
}

// Tasks whose arguments the journal cannot keep: refused, as if never accepted.
void refuse(scheduler_self self) {
  auto& st = self->state;
  for (auto& [id, why] : st.journal->take_refused()) {
    if (auto t = st.core->cancel(id))
      log(log_level::warning, "scheduler {}: task {} refused: {}", st.label, id, describe(why));
    for (auto& [acked, rp] : st.unacked)
      if (acked == id)
        rp.deliver(why);
    drop_results_of(st.next_commit, id);
    drop_results_of(st.in_commit, id);
  }
  st.unacked.erase(std::remove_if(st.unacked.begin(), st.unacked.end(),
                                  [](auto& x) { return !x.second.pending(); }),
                   st.unacked.end());
}

// Answers and results that a commit made true.
void release(scheduler_self self, held_for_commit& held) {
  auto& st = self->state;
  auto durable = st.journal->durable_id();
  auto keep = st.unacked.begin();
  for (auto& entry : st.unacked)
    if (entry.first <= durable && entry.second.pending())
      entry.second.deliver(entry.first);
    else if (entry.second.pending())
      *keep++ = std::move(entry);
  st.unacked.erase(keep, st.unacked.end());
  for (auto& [ids, rp] : held.batches)
    rp.deliver(std::move(ids));  // a batch is committed in one transaction
  for (auto& rp : held.notes)
    rp.deliver(caf::ok_atom::value);
  for (auto& [node, upto] : held.acks)
    self->send(node, ack_atom::value, upto);
  held.batches.clear();
  held.notes.clear();
  held.acks.clear();
  // Emptied, not freed: the next commit's results fit without growing it.
  for (auto& r : held.results)
    deliver_now(self, std::move(r));
  held.results.clear();
}

// A commit failed (a full disk, say): nothing is lost that was promised;
// the same commit is written again soon.
void retry_later(scheduler_self self, const caf::error& err) {
  auto& st = self->state;
  if (is(err, errc::standby)) {
    // Another scheduler resumed the shared journal: this one may never
    // commit, answer or deliver again. What it holds is the other's now.
    log(log_level::error, "scheduler {}: stepping down: {}", st.label, describe(err));
    fail_awaiters(self, "the scheduler stepped down: another took over its journal");
    self->quit(err);
    return;
  }
  if (!st.commit_failing)
    log(log_level::error, "scheduler {}: journal {}: {}; retrying", st.label,
        st.journal->path(), describe(err));
  st.commit_failing = true;
  st.commit_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds(100), commit_atom::value);
}

void succeeded(scheduler_self self) {
  auto& st = self->state;
  if (st.commit_failing)
    log(log_level::warning, "scheduler {}: journal {} writes again", st.label,
        st.journal->path());
  st.commit_failing = false;
}

// What waits for the next commit now waits for the one just started.
void hand_over(held_for_commit& from, held_for_commit& to) {
  auto move_all = [](auto& src, auto& dst) {
    if (dst.empty()) {
      std::swap(src, dst);  // nothing moved one by one; both keep their capacity
      return;
    }
    dst.insert(dst.end(), std::make_move_iterator(src.begin()),
               std::make_move_iterator(src.end()));
    src.clear();
  };
  move_all(from.batches, to.batches);
  move_all(from.results, to.results);
  move_all(from.notes, to.notes);
  move_all(from.acks, to.acks);
}

} // namespace

void on_commit_written(scheduler_self self) {
  // The writer's thread wakes the scheduler as the scheduler itself, so that
  // the message passes from_self; what it means is read from the journal.
  auto me = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  self->state.journal->on_written([me] {
    if (auto strong = me.lock()) {
      auto handle = caf::actor_cast<caf::actor>(strong);
      caf::send_as(handle, handle, commit_atom::value);
    }
  });
}

void commit(scheduler_self self) {
  auto& st = self->state;
  st.commit_scheduled = false;
  if (!st.journal)
    return;
  refuse(self);
  auto& j = *st.journal;
  if (j.writing()) {
    auto outcome = j.finish_commit();
    if (!outcome)
      return;  // the writer wakes us when it is done
    if (*outcome) {
      retry_later(self, *outcome);
      return;
    }
    succeeded(self);
    release(self, st.in_commit);
  }
  if (st.commit_failing && st.commit_scheduled)
    return;  // a retry waits for its time
  if (auto wait = j.dirty() ? j.commit_delay(std::chrono::steady_clock::now())
                            : std::chrono::steady_clock::duration{};
      wait.count() > 0) {
    // Under load: the next commit groups what comes meanwhile.
    if (!st.commit_scheduled) {
      st.commit_scheduled = true;
      self->delayed_send(self, wait, commit_atom::value);
    }
    return;
  }
  if (j.start_commit() == durable_journal::started::fresh)
    hand_over(st.next_commit, st.in_commit);
}

void commit_now(scheduler_self self) {
  auto& st = self->state;
  if (!st.journal)
    return;
  refuse(self);
  // What the commit in hand holds, then the rest.
  hand_over(st.next_commit, st.in_commit);
  if (auto err = st.journal->commit()) {
    log(log_level::error, "scheduler {}: journal {}: {}", st.label, st.journal->path(),
        describe(err));
    return;
  }
  release(self, st.in_commit);
}

namespace {

caf::error no_journal(const scheduler_state& st) {
  return make_error(errc::journal_error, "scheduler " + st.label + " has no journal "
                                           "(scheduler_options::journal) to keep notes in");
}

} // namespace

caf::result<caf::ok_atom> set_note(scheduler_self self, std::string& key, std::string& value) {
  if (auto err = check_admin(self, "a note"))
    return err;
  auto& st = self->state;
  if (!st.journal)
    return no_journal(st);
  st.journal->set_note(std::move(key), std::move(value));
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.next_commit.notes.push_back(rp);
  schedule_commit(self);
  return rp;
}

caf::result<std::string> get_note(scheduler_self self, const std::string& key) {
  if (auto err = check_admin(self, "reading a note"))
    return err;
  auto& st = self->state;
  if (!st.journal)
    return no_journal(st);
  return st.journal->note(key);
}

caf::expected<task_result> kept_result(scheduler_self self, task_id id) {
  auto& st = self->state;
  auto r = st.journal->result_of(id);
  if (!r)
    return std::move(r.error());
  return std::move(*r).to_result(st.label);
}

} // namespace gasched::detail
