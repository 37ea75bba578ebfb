// The scheduler's side of a journal shared with standbys (pg_leader.hpp):
// the lease's threads decide and resume; the actor takes what they hand it.
#include <caf/send.hpp>

#include "gasched/active_search.hpp"
#include "gasched/atoms.hpp"
#include "gasched/errc.hpp"
#include "logging.hpp"
#include "scheduler/state.hpp"

namespace gasched::detail {

journal_options journal_options_for(const scheduler_options& opts, const pg_leader* leader) {
  journal_options jo;
  jo.keep_results = opts.keep_results;
  jo.sync_every_commit = opts.journal_sync;
  jo.cluster = opts.journal_cluster;
  if (leader != nullptr)
    jo.session = leader->session_name();
  return jo;
}

void start_lease(scheduler_self self) {
  auto& st = self->state;
  auto news = std::make_shared<lease_news>();
  news->in_use = st.journal;
  st.news = news;
  // The threads wake the scheduler as the scheduler itself (from_self).
  auto me = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  auto wake = [me] {
    if (auto strong = me.lock()) {
      auto handle = caf::actor_cast<caf::actor>(strong);
      caf::send_as(handle, handle, lease_atom::value);
    }
  };
  auto& sys = self->system();
  auto url = st.opts.journal;
  auto jo = journal_options_for(st.opts, st.leader.get());
  st.leader->start(
    [news, wake, &sys, url, jo] {
      // On a thread of the lease's: resuming may take seconds.
      auto opened = durable_journal::open(sys, url, jo);
      {
        std::lock_guard<std::mutex> guard{news->mx};
        if (opened)
          news->journal = std::move(*opened);
        else
          news->open_error = std::move(opened.error());
      }
      wake();
    },
    [news, wake](caf::error why) {
      std::shared_ptr<durable_journal> journal;
      {
        std::lock_guard<std::mutex> guard{news->mx};
        news->lost = std::move(why);
        journal = news->in_use.lock();
      }
      if (journal)
        journal->cut();
      wake();
    });
}

caf::error standby_error(scheduler_self self) {
  auto active = self->state.leader->view().active;
  return make_standby_error("scheduler " + self->state.label + " is a standby; the active "
                              "scheduler is at " + (active.empty() ? "an unknown address" : active),
                            active);
}

bool take_journal(scheduler_self self, std::shared_ptr<durable_journal> journal) {
  auto& st = self->state;
  // Resumes what the journal held: pending in order, running back to the front.
  auto snapshot = journal->take_snapshot();
  st.first_own_id = snapshot.next_id;
  if (auto err = st.core->restore(std::move(snapshot))) {
    log(log_level::error, "scheduler {}: {}", st.label, describe(err));
    self->quit(err);
    return false;
  }
  st.core->set_journal(journal.get());
  st.journal = std::move(journal);
  if (st.news) {
    std::lock_guard<std::mutex> guard{st.news->mx};
    st.news->in_use = st.journal;
  }
  on_commit_written(self);
  // Tasks the journal kept as running wait for their nodes to claim them
  // (adoption), and nothing is dispatched meanwhile; what none claims by
  // then runs again.
  if (st.core->unadopted() > 0) {
    st.claims_open = true;
    self->delayed_send(self, st.opts.adopt_wait, adopt_atom::value);
  }
  if (st.leader)
    st.leader->confirm(st.core->generation());
  return true;
}

void step_down(scheduler_self self, const caf::error& why) {
  auto& st = self->state;
  log(log_level::error, "scheduler {}: stepping down: {}", st.label, describe(why));
  if (st.journal)
    st.journal->cut();  // a commit waiting for an unreachable database fails now
  fail_awaiters(self, "the scheduler stepped down: it lost its journal's lease");
  self->quit(make_error(errc::standby, "scheduler " + st.label + " stepped down: "
                                         + describe(why)));
}

} // namespace gasched::detail
