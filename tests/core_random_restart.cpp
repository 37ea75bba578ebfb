// The randomized test's journal: commits, restarts of the core from it (clean
// or after a crash), and the results it keeps.
#include "core_random_run.hpp"

#include <tuple>

namespace gasched::core_random {

void random_run::commit() {
  last_ = "commit";
  auto err = store_->commit();
  EXPECT(!err, "commit: " << describe(err));
  EXPECT(store_->durable_id() == next_id_ - 1, "durable_id " << store_->durable_id());
  save();
}

// The scheduler stops and starts again on its journal: after a commit, or
// in a crash that loses what came after the last one. The model resumes
// as the journal must: running tasks to the front of pending in id order
// (not a node failure), no node up, and a new generation of epochs, so
// that every lease of before is late.
void random_run::restart(bool clean) {
  if (clean)
    commit();
  last_ = clean ? "restart" : "crash and restart";
  for (auto id : running_)
    stale_.emplace_back(id, tasks_.at(id).epoch);
  auto limits = core_->limits();
  core_->set_journal(nullptr);
  store_.reset();
  if (!clean)
    revert();
  for (auto id = running_.rbegin(); id != running_.rend(); ++id) {
    auto& t = tasks_.at(*id);
    pending_[t.priority].push_front(*id);
    t.node = no_node;
    ++requeued_;
    ++ticks_;
  }
  running_.clear();
  ++generation_;
  for (auto& [id, t] : tasks_)
    t.epoch = epoch_base(generation_);
  nodes_.clear();
  dead_.clear();
  index_count_ = 0;
  late_results_ = 0;
  open_core(limits);
  for (auto n = pick(0, 3); n > 0; --n)
    node_up();
}

void random_run::open_core(core_limits limits) {
  journal_options opts;
  opts.sync_every_commit = false;
  auto j = durable_journal::open(sys_, path_, opts);
  EXPECT(j, "the journal opens: " << describe(j.error()));
  store_ = std::move(*j);
  core_ = std::make_unique<scheduler_core>(limits);
  auto err = core_->restore(store_->take_snapshot());
  EXPECT(!err, "restore: " << describe(err));
  core_->release_unadopted();  // no node claims what ran: it runs again
  journal_.restart(generation_, next_id_);
  for (auto& [id, t] : tasks_)
    journal_.resume(id, t.node_failures);
  tee_.a = &journal_;
  tee_.b = store_.get();
  core_->set_journal(&tee_);
  save();
}

void random_run::save() {
  saved_ = saved_model{next_id_, pending_, running_, tasks_, results_,
                       {ticks_, succeeded_, failed_, cancelled_, requeued_, quarantined_}};
}

void random_run::revert() {
  next_id_ = saved_.next_id;
  pending_ = saved_.pending;
  running_ = saved_.running;
  tasks_ = saved_.tasks;
  results_ = saved_.results;
  auto& c = saved_.counts;
  std::tie(ticks_, succeeded_, failed_, cancelled_, requeued_, quarantined_) =
    std::tie(c[0], c[1], c[2], c[3], c[4], c[5]);
}

// The journal keeps the result of every ended task, and of no other.
void random_run::check_result() {
  auto id = static_cast<task_id>(pick(1, static_cast<int>(next_id_)));
  auto r = store_->result_of(id);
  auto ended = id < next_id_ && results_[id] == 1;
  EXPECT(static_cast<bool>(r) == ended,
         "result_of(" << id << "): " << (r ? "found" : describe(r.error())));
  if (r)
    EXPECT(r->function == function_for(id) && args_match(id, r->args),
           "the kept result of task " << id);
  else
    EXPECT(is(r.error(), errc::unknown_task), describe(r.error()));
}

} // namespace gasched::core_random
