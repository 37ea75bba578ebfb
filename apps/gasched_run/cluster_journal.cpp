// --journal: the run loop's side of checkpoints (journal_checkpoint.hpp).
// Notes go to the scheduler through one agent, in order, so that an older
// note can never land after a newer one; the loop goes on while the
// scheduler commits them.
#include <fmt/format.h>

#include "gasched_run/cluster_impl.hpp"
#include "gasched_run/journal_checkpoint.hpp"

namespace gasched::run {

using namespace std::chrono_literals;

caf::behavior journal_agent(caf::event_based_actor* self, gasched::scheduler_actor sched,
                            caf::actor loop) {
  return {
    [=](await_atom, task_id id) {
      self->request(sched, caf::infinite, await_atom::value, id)
        .then([=](task_result& r) { self->send(loop, await_atom::value, id, std::move(r)); },
              [=](caf::error& e) { self->send(loop, await_atom::value, id, std::move(e)); });
    },
    [=](note_atom, std::string& key, std::string& value) {
      self->request(sched, caf::infinite, note_atom::value, std::move(key), std::move(value))
        .then([=](caf::ok_atom) { self->send(loop, note_atom::value, caf::ok_atom::value); },
              [=](caf::error& e) { self->send(loop, note_atom::value, std::move(e)); });
    },
    [=](cancel_atom, task_id id) {
      // unknown_task: it ended meanwhile; its result is dropped either way.
      self->request(sched, caf::infinite, cancel_atom::value, id)
        .then([](caf::ok_atom) {}, [](caf::error&) {});
    },
  };
}

std::string cluster::impl::read_note(const std::string& key) {
  std::string value, error;
  (*self)
    ->request(sched, 30s, note_atom::value, key)
    .receive([&](std::string& v) { value = std::move(v); },
             [&](caf::error& e) { error = describe(e); });
  if (!error.empty())
    throw std::runtime_error("cannot read gasched-run's record in " + opts.journal + ": "
                             + error);
  return value;
}

void cluster::impl::write_note(const std::string& key, const std::string& value) {
  std::string error;
  (*self)
    ->request(sched, 30s, note_atom::value, key, value)
    .receive([](caf::ok_atom) {}, [&](caf::error& e) { error = describe(e); });
  if (!error.empty())
    throw std::runtime_error("cannot record the run in " + opts.journal + ": " + error);
}

// An earlier run's tasks: awaited by id, their results keyed as before.
void cluster::impl::await_resumed(run_state& st,
                                  std::vector<std::pair<uint64_t, task_id>>& resumed) {
  for (auto& [key, id] : resumed) {
    st.key_of.emplace(id, key);
    st.max_id = std::max(st.max_id, id);
    caf::anon_send(agent, await_atom::value, id);
  }
  st.rep.total += resumed.size();
}

// The earlier run's tasks accepted after its last checkpoint run again
// under new ids: the old ones are cancelled instead of run twice.
void cluster::impl::cancel_stragglers(run_state& st, task_id first_new) {
  if (!st.cancel_after)
    return;
  for (auto id = *st.cancel_after + 1; id < first_new; ++id)
    caf::anon_send(agent, cancel_atom::value, id);
  st.cancel_after.reset();
}

void cluster::impl::journal_step(run_state& st, task_feed& feed) {
  if (!st.checkpoint_wanted && !st.note_in_flight && feed.checkpoint_due())
    st.checkpoint_wanted = true;
  if (!st.checkpoint_wanted || !st.unanswered.empty())
    return;
  st.checkpoint_wanted = false;
  if (auto note = feed.checkpoint(st.key_of, st.max_id, false)) {
    caf::anon_send(agent, note_atom::value, std::string{note_key}, std::move(*note));
    st.note_in_flight = true;
  }
}

void cluster::impl::note_answered(run_state& st, task_feed& feed, const std::string& error) {
  st.note_in_flight = false;
  feed.checkpointed(error);
}

// As the run ends, however it ends: what is written and what is left, so
// that the same command goes on from here. Not possible with tasks sent
// whose ids never came: the last checkpoint stands.
void cluster::impl::last_checkpoint(run_state& st, task_feed& feed) {
  if (st.sched_down || !st.unanswered.empty())
    return;
  auto wait_for_answer = [&] {
    auto deadline = clock::now() + 30s;
    while (st.note_in_flight && clock::now() < deadline) {
      (*self)->receive(
        [&](note_atom, caf::ok_atom) { note_answered(st, feed, {}); },
        [&](note_atom, caf::error& e) { note_answered(st, feed, describe(e)); },
        caf::after(caf::duration{std::max<clock::duration>(deadline - clock::now(), 1ms)}) >>
          [&] { note_answered(st, feed, "no answer from the scheduler in 30 s"); });
    }
  };
  wait_for_answer();  // notes land in order: the last one last
  if (auto note = feed.checkpoint(st.key_of, st.max_id, true)) {
    caf::anon_send(agent, note_atom::value, std::string{note_key}, std::move(*note));
    st.note_in_flight = true;
    wait_for_answer();
  }
}

} // namespace gasched::run
