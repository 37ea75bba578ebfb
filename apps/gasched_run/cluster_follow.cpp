// --connect: following the active scheduler. When the scheduler in use is
// lost mid-run (its process died or the connection broke; a standby or a
// scheduler that stepped down: errc::standby), a search over the --connect addresses
// (connect_scheduler, on a thread of its own: it blocks) finds the active
// one, restarted on the same journal or a standby that took over. The run
// then goes on with it: subscribed again, every task we are owed (its id
// back, no result yet) awaited by id, and the batches whose ids never came
// back sent again -- the journal cannot vouch for them, so those lines may
// run twice. Each line's result is written once: one that comes for a line
// already written is dropped and counted (run_report::duplicates).
#include <algorithm>

#include <caf/blocking_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "gasched/active_search.hpp"
#include "gasched/errc.hpp"
#include "gasched/gasched.hpp"
#include "gasched_run/cluster_state.hpp"

namespace gasched::run {

namespace {

// The addresses to search: the active one a standby named first, then
// --connect's.
std::vector<address> search_list(const options& opts, const caf::error& reason) {
  std::vector<address> list;
  if (auto active = standby_active(reason))
    list.push_back(*active);
  auto add = [&](const address& a) {
    auto same = [&](const address& b) { return b.host == a.host && b.port == a.port; };
    if (std::none_of(list.begin(), list.end(), same))
      list.push_back(a);
  };
  if (opts.connect_list.empty())
    add(address{opts.connect_host, opts.connect_port});
  for (auto& text : opts.connect_list)
    if (auto a = parse_address(text))
      add(*a);
  return list;
}

// Whether an error or exit reason says the scheduler is gone or no longer
// active (rather than that it refused or stopped).
bool scheduler_lost(const caf::error& e) {
  if (!e)
    return false;  // a clean exit (and CAF 0.17's category() of no error crashes)
  if (is(e, errc::standby) || e == caf::exit_reason::remote_link_unreachable)
    return true;
  // CAF's own errors (the receiver is down, no route to its node, ...): the
  // request never reached a scheduler that could refuse it.
  return e.category() == caf::atom("system") && e != caf::sec::request_timeout;
}

} // namespace

bool lose_scheduler(cluster_self self, const std::string& why, const caf::error& reason) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  // A scheduler that exited on its own (stopped by its operator) ends the
  // run, as without --connect's list.
  if (ctx.own_scheduler || !st.run || !collecting(self, st.run->number)
      || !scheduler_lost(reason))
    return false;
  if (st.searching)
    return true;
  st.lost = ctx.join_address + " (" + why + ")";
  self->demonitor(ctx.sched.address());
  ++st.epoch;  // what the lost scheduler still answers is dropped
  auto number = ++st.searches;
  st.searching = number;
  auto list = search_list(ctx.opts, reason);
  if (!st.search_cancel) {
    st.search_cancel = std::make_shared<std::atomic<bool>>(false);
    self->attach_functor([cancel = st.search_cancel] { cancel->store(true); });
  }
  active_search_options search;
  search.cancel = st.search_cancel;
  std::string names;
  for (auto& a : list)
    names += (names.empty() ? "" : ",") + to_string(a);
  // Shown even with --quiet, as the switch is: a client that waits says why.
  ctx.display.error(fmt::format("lost the scheduler at {}; searching {} for the active one",
                                st.lost, names));
  auto me = caf::actor_cast<cluster_actor>(self);
  // What it needs goes as spawn arguments, not captures: CAF 0.17 binds a
  // null pointer to the empty argument tuple of an actor spawned with none
  // (UndefinedBehaviorSanitizer reports it).
  using list_type = decltype(list);
  self->system().spawn([](caf::blocking_actor* searcher, cluster_actor me, list_type list,
                         decltype(number) number, active_search_options search) {
    found_scheduler f;
    f.search = number;
    address where;
    auto sched = connect_scheduler(searcher->system(), list, search, &where);
    if (sched) {
      f.sched = std::move(*sched);
      f.where = to_string(where);
    } else {
      f.error = describe(sched.error());
    }
    caf::anon_send(me, follow_atom::value, std::move(f));
  }, me, std::move(list), number, std::move(search));
  return true;
}

void on_found(cluster_self self, found_scheduler& f) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  if (!st.searching || *st.searching != f.search)
    return;
  st.searching.reset();
  if (!st.run || !collecting(self, st.run->number))
    return;
  auto& run = *st.run;
  if (!f.error.empty()) {
    run.rep.fatal = "lost the scheduler at " + st.lost + " and found no active one: " + f.error;
    return step(self);
  }
  ctx.sched = std::move(f.sched);
  ctx.join_address = f.where;
  if (ctx.followed)
    ctx.followed(ctx.sched);
  self->monitor(ctx.sched);
  subscribe(self);  // first: in its mailbox before any task we send
  for (auto& entry : run.key_of)
    await_owed(self, entry.first);
  size_t resent = 0;
  for (auto& [number, batch] : run.unacked) {
    send_tasks(self, number, batch.keys, batch.tasks);
    resent += batch.tasks.size();
  }
  ++run.rep.switches;
  // Shown even with --quiet: which scheduler a run ended with matters.
  ctx.display.error(fmt::format("lost the scheduler at {}; following {}: re-awaited {}, "
                                "re-sent {}",
                                st.lost, f.where, run.key_of.size(), resent));
  look_now(self);
  step(self);
}

void subscribe(cluster_self self) {
  auto epoch = self->state.epoch;
  self->request(self->state.ctx->sched, caf::infinite, subscribe_atom::value)
    .then([](caf::ok_atom) {},
          [self, epoch](caf::error& e) {
            if (epoch != self->state.epoch)
              return;
            if (lose_scheduler(self, describe(e), e))
              return;
            self->state.ctx->display.notice("the scheduler refused the subscription: "
                                            + describe(e));
          });
}

void await_owed(cluster_self self, task_id id) {
  auto& st = self->state;
  auto number = st.run->number;
  auto epoch = st.epoch;
  // A result is taken from whichever scheduler has it; an error only from
  // the current one (a lost one's say nothing about the task).
  self->request(st.ctx->sched, caf::infinite, await_atom::value, id)
    .then(
      [self, number, id](task_result& r) {
        if (current(self, number))
          take_result(self, id, r);
      },
      [self, number, epoch, id](caf::error& e) {
        if (!current(self, number) || epoch != self->state.epoch)
          return;
        if (lose_scheduler(self, describe(e), e))
          return;
        take_result(self, id, failed_result(id, std::move(e)));
      });
}

} // namespace gasched::run
