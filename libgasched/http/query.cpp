// Asking the scheduler for stats and unfinished tasks from an HTTP thread.
#include "http/query.hpp"

#include <algorithm>

#include <caf/scoped_actor.hpp>

#include "gasched/atoms.hpp"
#include "gasched/task.hpp"

namespace gasched::detail::http {

namespace {

constexpr size_t max_args_text = 200;

std::string args_text(const caf::message& args) {
  auto text = caf::to_string(args);
  if (text.size() > max_args_text) {
    text.resize(max_args_text);
    text += "...";
  }
  return text;
}

// One snapshot: stats and the unfinished list, asked back to back so that
// the scheduler (which handles one message at a time) answers both with
// little or nothing in between.
struct snapshot {
  stats s;
  std::vector<task> tasks;
};

caf::expected<snapshot> ask_snapshot(caf::scoped_actor& self, const scheduler_actor& sched,
                                     caf::timespan timeout) {
  snapshot result;
  caf::error err;
  auto on_error = [&](caf::error& e) { err = std::move(e); };
  auto stats_reply = self->request(sched, timeout, stats_atom::value);
  auto tasks_reply = self->request(sched, timeout, unfinished_atom::value);
  stats_reply.receive([&](stats& s) { result.s = std::move(s); }, on_error);
  tasks_reply.receive([&](std::vector<task>& ts) { result.tasks = std::move(ts); },
                      on_error);
  if (err)
    return err;
  return result;
}

bool consistent(const snapshot& x) {
  return x.s.pending + x.s.running == x.tasks.size();
}

} // namespace

caf::expected<stats> ask_stats(caf::actor_system& sys, const scheduler_actor& sched,
                               caf::timespan timeout) {
  caf::scoped_actor self{sys};
  caf::expected<stats> result{caf::error{}};
  self->request(sched, timeout, stats_atom::value)
    .receive([&](stats& s) { result = std::move(s); },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

caf::expected<task_listing> ask_tasks(caf::actor_system& sys, const scheduler_actor& sched,
                                      caf::timespan timeout, task_state state,
                                      size_t limit) {
  caf::scoped_actor self{sys};
  // unfinished_atom lists pending tasks first, then running ones, without
  // saying where one ends; the stats' pending count says it. A task that
  // moved between the two answers makes the counts disagree: ask again.
  auto snap = ask_snapshot(self, sched, timeout);
  for (int retry = 0; retry < 3 && snap && !consistent(*snap); ++retry)
    snap = ask_snapshot(self, sched, timeout);
  if (!snap)
    return std::move(snap.error());
  auto& tasks = snap->tasks;
  auto pending = std::min<uint64_t>(snap->s.pending, tasks.size());
  task_listing result;
  result.pending = pending;
  result.running = tasks.size() - pending;
  auto first = state == task_state::running ? pending : 0;
  auto last = state == task_state::pending ? pending : tasks.size();
  for (auto i = first; i < last && result.rows.size() < limit; ++i)
    result.rows.push_back(task_row{tasks[i].function, args_text(tasks[i].args),
                                   tasks[i].priority, i >= pending});
  return result;
}

} // namespace gasched::detail::http
