// The loops of a run and of a server: submit what the feed has, collect one
// result per task, and look around (cluster_watch.cpp) at each tick.
#include <algorithm>

#include <fmt/format.h>

#include "gasched_run/cluster_impl.hpp"

namespace gasched::run {

using namespace std::chrono_literals;

progress_counts cluster::impl::counts(const run_state& st, const std::optional<stats>& s,
                                      task_feed* feed) {
  progress_counts c;
  // Known only once the whole feed is in; until then progress shows what
  // was read of the file instead.
  c.total = st.fed ? st.rep.total : 0;
  c.done = st.done;
  c.failed = st.rep.failed;
  if (feed && !st.fed) {
    c.streaming = true;
    std::tie(c.bytes_read, c.bytes_total) = feed->bytes();
    c.submitted = st.rep.total;
  }
  if (s) {
    c.nodes = s->worker_node_count;
    auto outstanding = st.rep.total - st.done;
    if (own_scheduler) {
      c.running = s->running;
      c.pending = s->pending;
    } else {
      // A remote scheduler's counts include other clients' tasks: show
      // ours, taking the running ones from its count.
      c.running = std::min<uint64_t>(s->running, outstanding);
      c.pending = outstanding - c.running;
    }
  }
  return c;
}

void cluster::impl::submit(run_state& st, std::vector<std::pair<uint64_t, task>>& batch) {
  st.rep.total += batch.size();
  if (!own_scheduler) {
    for (auto& [key, t] : batch)
      caf::anon_send(forwarder, submit_atom::value, key, std::move(t));
    return;
  }
  std::vector<task> tasks;
  std::vector<uint64_t> keys;
  tasks.reserve(batch.size());
  keys.reserve(batch.size());
  for (auto& entry : batch) {
    keys.push_back(entry.first);
    tasks.push_back(std::move(entry.second));
  }
  // Sent, not requested: a blocking request would make the mailbox skip
  // (and CAF 0.17 then rescan) every result that came meanwhile. The ids
  // come back as a message, in order, before any result of the batch.
  (*self)->send(sched, execute_atom::value, std::move(tasks));
  st.unanswered.push_back(std::move(keys));
}

void cluster::impl::take_ids(run_state& st, const std::vector<task_id>& ids) {
  if (st.unanswered.empty())
    return;
  auto& keys = st.unanswered.front();
  for (size_t i = 0; i < ids.size() && i < keys.size(); ++i)
    st.key_of.emplace(ids[i], keys[i]);
  st.unanswered.pop_front();
  if (!ids.empty()) {
    cancel_stragglers(st, ids.front());
    st.max_id = std::max(st.max_id, *std::max_element(ids.begin(), ids.end()));
  }
}

void cluster::impl::take_result(run_state& st, task_id id, const task_result& r) {
  auto it = st.key_of.find(id);
  if (it == st.key_of.end())
    return;  // a remote client's task, or one already answered (awaited too)
  auto key = it->second;
  st.key_of.erase(it);
  record(st, key, r);
}

// Submits what the feed has now; notes when it has ended.
void cluster::impl::feed_some(run_state& st, task_feed& feed) {
  auto ended = feed.ended();  // asked first: whatever came before the end is taken now
  std::vector<std::pair<uint64_t, task>> batch;
  feed.take(batch);
  if (!batch.empty())
    submit(st, batch);
  st.fed = ended;
  if (ended && !st.kill_noticed && opts.kill_node_after >= st.rep.total && st.rep.total > 0) {
    st.kill_noticed = true;
    display.notice(fmt::format("--kill-node-after {}: the run has {} tasks, so no node "
                               "will be killed",
                               opts.kill_node_after, st.rep.total));
  }
}

void cluster::impl::record(run_state& st, uint64_t key, const task_result& r) {
  ++st.done;
  st.rep.count(r);
  (*st.on_result)(key, r);
  // Killed from the loop, not here: kill_one asks for stats, a request
  // that must not nest inside a receive.
  st.kill_due = opts.kill_node_after > 0 && st.rep.killed_node.empty()
                && st.done >= opts.kill_node_after && (st.done < st.rep.total || !st.fed);
}

// Waits up to `wait` for a message (nullopt: as long as it takes); after
// results, at most a moment, so that the feed flushes their output soon
// after the last one came.
void cluster::impl::receive_for(run_state& st, std::optional<clock::duration> wait,
                                task_feed& feed) {
  auto results_came = st.done != st.done_when_idle;
  if (results_came)
    wait = std::min<clock::duration>(wait.value_or(20ms), 20ms);
  auto timeout = wait ? caf::duration{std::max<clock::duration>(*wait, 1ms)}
                      : caf::duration{caf::infinite};
  (*self)->receive(
    [&](task_result& r) { take_result(st, r.id, r); },
    [&](await_atom, task_id id, task_result& r) { take_result(st, id, r); },
    [&](await_atom, task_id id, caf::error& e) {
      // An earlier run's task the journal does not know (any more): the
      // same shape as a failed result.
      task_result r;
      r.id = id;
      r.error = std::move(e);
      take_result(st, id, r);
    },
    [&](note_atom, caf::ok_atom) { note_answered(st, feed, {}); },
    [&](note_atom, caf::error& e) { note_answered(st, feed, describe(e)); },
    [&](result_atom, uint64_t key, task_result& r) { record(st, key, r); },
    [&](result_atom, uint64_t key, caf::error& e) {
      // The scheduler did not run it (queue full, stopped, ...): the
      // same shape as a failed result, so callers see one kind of thing.
      task_result r;
      r.error = std::move(e);
      record(st, key, r);
    },
    [&](std::vector<task_id>& ids) { take_ids(st, ids); },
    [&](caf::error& e) {
      st.rep.fatal = "the scheduler refused the tasks: " + describe(e);
    },
    [&](wake_atom) {},  // the feed has more, or a signal came: the loop looks
    [&](changed_atom) { st.changed = true; },
    [&](caf::down_msg& msg) {
      if (msg.source == sched.address()) {
        st.rep.fatal = "lost the scheduler (" + sys->render(msg.reason) + ")";
        st.sched_down = true;
      }
    },
    caf::after(timeout) >> [&] {
      if (results_came) {
        st.done_when_idle = st.done;
        feed.idle();
      }
    });
}

// Ticks: a bar redraw every 100 ms is smooth and costs one stats request.
clock::duration cluster::impl::tick_every() const {
  return display.is_bar() ? clock::duration{100ms} : clock::duration{250ms};
}

// What sends us no message: what local nodes write to their logs. Only then
// does an idle loop look now and then. Nodes that join or leave a scheduler
// we publish, and tasks that remote clients submit to it, the scheduler
// tells us of (changed_atom, notify_client_of_changes).
bool cluster::impl::idle_looks() const {
  return opts.log_given && !opts.quiet && nodes.size() > 0;
}

std::optional<clock::time_point> cluster::impl::next_look(bool busy,
                                                          clock::time_point now) const {
  constexpr auto idle_look_every = 2s;
  // Restarted nodes the scheduler refused for now are offered again soon.
  if (busy || !hand_over.empty())
    return now + tick_every();
  std::optional<clock::time_point> at;
  if (!display.settled())  // a plain line still owes the last change
    at = std::max(now + tick_every(), display.line_due());
  if (idle_looks())
    at = std::min(at.value_or(clock::time_point::max()), now + idle_look_every);
  return at;
}

bool cluster::impl::tick(run_state& st, no_nodes_watch& watch, task_feed& feed) {
  auto s = look_around(st.rep);
  if (s && st.rep.fatal.empty()) {
    auto v = watch.look(clock::now(), s->worker_node_count, st.rep.total - st.done,
                        join_hint());
    if (!v.notice.empty())
      display.error(v.notice);  // even with --quiet: a run that waits must say why
    st.rep.fatal = v.fatal;
  }
  auto c = counts(st, s, &feed);
  display.update(c);
  auto changed = !st.last_look || !(*st.last_look == c);
  st.last_look = c;
  auto others = own_scheduler && s && s->pending + s->running > 0;  // remote clients' too
  return changed || st.done < st.rep.total || others;
}

run_report cluster::impl::run(task_feed& feed, const result_handler& on_result,
                              std::vector<std::pair<uint64_t, task_id>> resumed,
                              std::optional<task_id> known_ids) {
  run_state st;
  st.rep.started_unix_ms = started_unix_ms;
  st.on_result = &on_result;
  st.max_id = known_ids.value_or(0);
  if (known_ids && journaled() && !opts.listening())
    st.cancel_after = known_ids;  // listening, the ids between may be remote clients'
  await_resumed(st, resumed);
  auto started = clock::now();
  display.start();
  feed.start([me = caf::actor{*self}] { caf::anon_send(me, wake_atom::value); });
  no_nodes_watch watch{std::chrono::seconds(opts.no_nodes_timeout)};
  std::optional<clock::time_point> look_at = clock::now();
  auto children = signals.child_signals();
  uint64_t submitted = 0, done = 0;
  while (st.rep.fatal.empty()) {
    if (signals.requested()) {
      st.rep.interrupted_by = signals.signal();
      break;
    }
    if (!st.fed && !st.checkpoint_wanted)
      feed_some(st, feed);
    if (st.fed && st.done >= st.rep.total)
      break;
    if (journaled())
      journal_step(st, feed);
    if (st.kill_due) {
      st.kill_due = false;
      kill_one(st.rep, st.done);
      supervise(st.rep);  // at once: the restart belongs to the demonstration
    }
    auto now = clock::now();
    if (st.changed) {
      st.changed = false;
      look_at = now;  // nodes or another client changed the cluster: show it
    } else if (signals.child_signals() != children) {
      children = signals.child_signals();
      look_at = now;  // a local node may have died: supervision looks at once
    } else if (st.rep.total != submitted || st.done != done) {
      // Tasks went in or results came: ticks again while they run.
      if (!look_at || *look_at > now + tick_every())
        look_at = now + tick_every();
    }
    submitted = st.rep.total;
    done = st.done;
    if (look_at && now >= *look_at) {
      look_at = next_look(tick(st, watch, feed), now);
      continue;
    }
    receive_for(st, look_at ? std::optional<clock::duration>{*look_at - now} : std::nullopt,
                feed);
  }
  return end_run(st, feed, started);
}

run_report cluster::impl::end_run(run_state& st, task_feed& feed, clock::time_point started) {
  st.rep.seconds = std::chrono::duration<double>(clock::now() - started).count();
  if (journaled())
    last_checkpoint(st, feed);
  // Only ours is asked: a remote one's counts are not ours, and one that
  // went away would hold the run up for the request's timeout.
  if (auto s = own_scheduler ? ask_stats() : std::nullopt) {
    take_counts(st.rep, *s);
    display.update(counts(st, s, &feed));
  }
  st.rep.restarts = supervision.restarts();
  display.finish();
  return std::move(st.rep);
}

bool cluster::impl::serve_tick(run_report& rep, no_nodes_watch& watch,
                               std::optional<progress_counts>& last_look) {
  auto s = look_around(rep);
  if (!s)
    return true;  // not answered: look again at the next tick
  rep.total = s->succeeded + s->failed + s->pending + s->running;
  progress_counts c;
  c.done = s->succeeded + s->failed;
  c.failed = s->failed;
  c.running = s->running;
  c.pending = s->pending;
  c.nodes = s->worker_node_count;
  display.update(c);
  take_counts(rep, *s);
  // A server waits for nodes as long as it serves, but says so.
  auto v = watch.look(clock::now(), s->worker_node_count, s->pending + s->running,
                      join_hint());
  if (!v.notice.empty())
    display.error(v.notice);
  auto changed = !last_look || !(*last_look == c);
  last_look = c;
  return changed || c.running + c.pending > 0;
}

// What the scheduler still holds as serving ends: every pending or
// running task is unfinished (its client learns that it was cancelled).
void cluster::impl::count_left(run_report& rep) {
  auto s = rep.fatal.empty() ? ask_stats() : std::nullopt;
  if (!s)
    return;
  take_counts(rep, *s);
  rep.total = rep.succeeded + rep.failed + s->pending + s->running;
}

run_report cluster::impl::serve() {
  run_report rep;
  rep.started_unix_ms = started_unix_ms;
  auto started = clock::now();
  display.start();
  no_nodes_watch watch{0s};
  std::optional<progress_counts> last_look;
  std::optional<clock::time_point> look_at = clock::now();
  auto children = signals.child_signals();
  bool changed = false;  // the scheduler said nodes or other clients changed it
  while (!signals.requested() && rep.fatal.empty()) {
    auto now = clock::now();
    if (changed) {
      changed = false;
      look_at = now;  // nodes or another client changed the cluster: show it
    } else if (signals.child_signals() != children) {
      children = signals.child_signals();
      look_at = now;  // a local node may have died: supervision looks at once
    }
    if (look_at && now >= *look_at) {
      look_at = next_look(serve_tick(rep, watch, last_look), now);
      continue;
    }
    auto timeout = look_at ? caf::duration{std::max<clock::duration>(*look_at - now, 1ms)}
                           : caf::duration{caf::infinite};
    (*self)->receive(
      [&](task_result& r) {
        rep.count(r);
        // A result: tasks are on the move, the display follows them.
        if (!look_at || *look_at > now + tick_every())
          look_at = now + tick_every();
      },
      [&](wake_atom) {},  // a signal: the loop looks
      [&](changed_atom) { changed = true; },
      [&](caf::down_msg& msg) {
        if (msg.source == sched.address())
          rep.fatal = "the scheduler stopped (" + sys->render(msg.reason) + ")";
      },
      caf::after(timeout) >> [] {});
  }
  rep.interrupted_by = signals.signal();
  rep.seconds = std::chrono::duration<double>(clock::now() - started).count();
  rep.restarts = supervision.restarts();
  count_left(rep);
  display.finish();
  return rep;
}

} // namespace gasched::run
