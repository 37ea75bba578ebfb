#include "core/scheduler_core.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "gasched/errc.hpp"

namespace gasched::detail {

journal::~journal() = default;

namespace {

uint64_t steady_us() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
    duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

// Means move by an eighth of each sample: a few dozen results settle them,
// and one odd result moves them little.
void ewma(double& mean, double sample) {
  mean = mean < 0 ? sample : mean + (sample - mean) / 8;
}

} // namespace

// Adaptive: the node table bounds each node at max_prefetch per slot; what
// a node may hold below that bound is hold_limit's decision.
scheduler_core::scheduler_core(core_limits limits)
  : limits_(limits),
    nodes_(limits.max_workers,
           limits.prefetch == adaptive_prefetch ? limits.max_prefetch : limits.prefetch),
    clock_(steady_us) {
}

uint32_t scheduler_core::intern(const std::string& function) {
  auto [it, added] = function_index_.emplace(function,
                                             static_cast<uint32_t>(functions_.size()));
  if (added) {
    functions_.push_back(function);
    run_us_.push_back(-1.0);
  }
  return it->second;
}

bool scheduler_core::has_room(uint64_t n) const noexcept {
  return limits_.max_pending == 0 || pending_.size() + n <= limits_.max_pending;
}

caf::expected<task_id> scheduler_core::enqueue(const std::string& function,
                                               caf::message args, int32_t priority) {
  if (!has_room(1))
    return make_error(errc::queue_full, "max_pending is "
                                          + std::to_string(limits_.max_pending));
  auto id = next_id_++;
  if (journal_)
    journal_->enqueued(id, function, args, priority);
  pending_.push_back(id, priority, intern(function), std::move(args), 0, clock_());
  return id;
}

scheduler_core::running_map::value_type&
scheduler_core::start(node_index node, queued_task&& t) {
  nodes_.started(node);
  if (!vouched_.empty())
    vouched_.erase(t.id);  // its run of before is over: this one is recorded now
  auto epoch = epoch_base(generation_) + t.lease;
  auto [it, added] = running_.emplace(
    t.id, running_task{node, t.fn, epoch, t.node_failures, t.priority, std::move(t.args),
                       t.accepted_us});
  static_cast<void>(added);
  note_start(node, t.id, it->second);
  if (journal_)
    journal_->dispatched(t.id, epoch, node);
  return *it;
}

ended_task scheduler_core::stop(running_map::iterator it) {
  auto& r = it->second;
  note_stop(r);
  nodes_.stopped(r.node);
  ++count_.ticks;
  ended_task result{it->first, r.fn,    r.priority, std::move(r.args),
                    r.node,    r.epoch, true,       r.node_failures};
  running_.erase(it);
  return result;
}

std::optional<ended_task> scheduler_core::complete(task_id id, uint32_t epoch, node_index from,
                                                   const caf::message& value,
                                                   const caf::error& error,
                                                   run_timing timing) {
  auto it = running_.find(id);
  if (it == running_.end() || it->second.epoch != epoch) {
    ++count_.late_results;
    return std::nullopt;
  }
  if (from != no_node && from != it->second.node)
    return std::nullopt;
  auto now = clock_();
  observe(it->second, timing, now);
  time_result(it->second, timing, now);
  ++(error ? count_.failed : count_.succeeded);
  if (journal_)
    journal_->finished(id, error ? outcome_kind::failed : outcome_kind::succeeded,
                       it->second.node, value, error);
  return stop(it);
}

std::optional<ended_task> scheduler_core::complete(task_id id, uint32_t epoch, bool ok) {
  if (ok)
    return complete(id, epoch, no_node, caf::message{}, caf::error{});
  return complete(id, epoch, no_node, caf::message{},
                  make_error(errc::journal_error, "the task failed; why was not recorded"));
}

node_index scheduler_core::add_node(uint32_t slots) {
  auto n = nodes_.add(slots);
  if (timing_.size() <= n)
    timing_.resize(n + 1);
  timing_[n] = node_timing{};
  return n;
}

std::vector<task_id> scheduler_core::running_ids() const {
  std::vector<task_id> ids;
  ids.reserve(running_.size());
  for (auto& [id, r] : running_)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<ended_task> scheduler_core::remove_node(node_index node) {
  // Node death is rare: a scan of the running tasks is fine here, and it keeps
  // dispatch and completion free of per-node bookkeeping.
  std::vector<task_id> lost;
  for (auto& [id, r] : running_)
    if (r.node == node)
      lost.push_back(id);
  // Requeue in id order: pushing the newest first leaves the oldest in front.
  std::sort(lost.begin(), lost.end(), std::greater<>{});
  std::vector<ended_task> quarantined;
  for (auto id : lost) {
    auto it = running_.find(id);
    auto accepted_us = it->second.accepted_us;
    auto t = stop(it);
    auto failures = t.node_failures + 1;
    if (limits_.max_node_failures != infinity && failures >= limits_.max_node_failures) {
      ++count_.quarantined;
      t.node_failures = failures;
      if (journal_)
        journal_->finished(id, outcome_kind::quarantined, node, {},
                           make_error(errc::node_failures,
                                      std::to_string(failures)
                                        + " nodes died while running it"));
      quarantined.push_back(std::move(t));
      continue;
    }
    ++count_.requeued;
    if (journal_)
      journal_->requeued(id, failures);
    // An adopted task's lease is of an earlier generation: its next is the first.
    auto base = epoch_base(generation_);
    auto lease = t.epoch >= base ? t.epoch - base + 1 : 0;
    pending_.push_front(
      queued_task{id, t.priority, t.fn, failures, std::move(t.args), lease, accepted_us});
  }
  nodes_.remove(node);
  std::reverse(quarantined.begin(), quarantined.end());
  return quarantined;
}

void scheduler_core::set_max_workers(uint32_t n) {
  limits_.max_workers = n;
  nodes_.set_max_workers(n);
}

std::optional<ended_task> scheduler_core::cancel(task_id id) {
  if (auto it = running_.find(id); it != running_.end()) {
    ++count_.cancelled;
    if (journal_)
      journal_->finished(id, outcome_kind::cancelled, it->second.node, {},
                         make_error(errc::cancelled));
    return stop(it);
  }
  if (auto it = unadopted_.find(id); it != unadopted_.end()) {
    auto t = std::move(it->second.task);
    unadopted_.erase(it);
    ++count_.cancelled;
    if (journal_)
      journal_->finished(id, outcome_kind::cancelled, no_node, {},
                         make_error(errc::cancelled));
    return ended_task{id,      t.fn, t.priority, std::move(t.args),
                      no_node, 0,    false,      t.node_failures};
  }
  if (auto t = pending_.remove(id)) {
    ++count_.cancelled;
    if (journal_)
      journal_->finished(id, outcome_kind::cancelled, no_node, {},
                         make_error(errc::cancelled));
    return ended_task{id,      t->fn, t->priority, std::move(t->args),
                      no_node, 0,     false,       t->node_failures};
  }
  return std::nullopt;
}

caf::error scheduler_core::restore(journal_snapshot&& s) {
  if (next_id_ != 1 || !idle())
    return make_error(errc::invalid_argument,
                      "restore needs a scheduler core that has not accepted a task");
  for (auto& t : s.pending)
    if (t.fn >= s.functions.size())
      return make_error(errc::invalid_argument, "restore: task " + std::to_string(t.id)
                                                  + " has no function name");
  next_id_ = s.next_id;
  restored_next_id_ = s.next_id;
  generation_ = s.generation;
  auto now = clock_();  // when they were accepted before is not journaled
  count_ = s.count;
  std::vector<uint32_t> fn;
  fn.reserve(s.functions.size());
  for (auto& name : s.functions)
    fn.push_back(intern(name));
  // Requeued tasks go in from the back of the order: each push_front goes
  // ahead of those before it. New tasks follow in order.
  // A task that a resume already put back to pending (no claim came in
  // that run) keeps its place; the node and lease it had stay the only
  // claim that may take it while it is pending.
  for (auto& t : s.pending)
    if (!t.running && (!t.node.empty() || t.epoch != 0))
      vouched_.emplace(t.id, vouched_claim{t.node, t.epoch});
  for (auto& t : s.pending)
    if (t.running)
      unadopted_.emplace(t.id, waiting_task{queued_task{t.id, t.priority, fn[t.fn],
                                                        t.node_failures, std::move(t.args), 0,
                                                        now},
                                            std::move(t.node), t.epoch});
  for (auto t = s.pending.rbegin(); t != s.pending.rend(); ++t)
    if (t->front && !unadopted_.count(t->id))
      pending_.push_front(queued_task{t->id, t->priority, fn[t->fn], t->node_failures,
                                      std::move(t->args), 0, now});
  for (auto& t : s.pending)
    if (!t.front && !unadopted_.count(t.id))
      pending_.push_back(t.id, t.priority, fn[t.fn], std::move(t.args), t.node_failures, now);
  s.pending.clear();
  return caf::none;
}

// -- adoption ---------------------------------------------------------------------

std::vector<task_id> scheduler_core::adopt(node_index n,
                                           const std::string& name,
                                           const std::vector<std::pair<task_id, uint32_t>>& held) {
  std::vector<task_id> adopted;
  // A lease this scheduler did not issue: of an earlier run on the journal.
  auto earlier = [base = epoch_base(generation_)](uint32_t epoch) { return epoch < base; };
  for (auto& [id, epoch] : held) {
    if (auto it = unadopted_.find(id); it != unadopted_.end()) {
      // The journal names the node and the lease: only that claim counts.
      // (A running task of an older journal names neither: any lease of an
      // earlier generation.)
      auto& w = it->second;
      auto node_ok = w.node.empty() || w.node == name;
      auto epoch_ok = w.node.empty() && w.epoch == 0 ? earlier(epoch) : w.epoch == epoch;
      if (node_ok && epoch_ok) {
        auto t = std::move(w.task);
        unadopted_.erase(it);
        run_adopted(n, epoch, std::move(t));
        adopted.push_back(id);
        continue;
      }
    } else if (earlier(epoch) && id < restored_next_id_ && pending_.contains(id)
               && vouches(id, name, epoch)) {
      // Dispatched before the restart, but the journal did not record it.
      // Only a task the journal holds: an id from restored_next_id_ on is
      // this run's own, reused from an accept the earlier run never
      // committed, and the node's lease is for another task.
      vouched_.erase(id);
      run_adopted(n, epoch, std::move(*pending_.remove(id)));
      adopted.push_back(id);
      continue;
    }
    // Refused: the node drops that run; its result is fenced, never delivered.
    ++count_.late_results;
  }
  // The node is back without the rest of what it ran: lost with the old run.
  std::vector<task_id> lost;
  for (auto& [id, w] : unadopted_)
    if (w.node == name)
      lost.push_back(id);
  requeue_unadopted(std::move(lost));
  return adopted;
}

bool scheduler_core::vouches(task_id id, const std::string& name, uint32_t epoch) const {
  auto it = vouched_.find(id);
  if (it == vouched_.end())
    return true;  // the journal knows no dispatch of it: nothing contradicts the claim
  auto& v = it->second;
  return (v.node.empty() || v.node == name) && v.epoch == epoch;
}

void scheduler_core::run_adopted(node_index n, uint32_t epoch, queued_task&& t) {
  nodes_.started(n);
  auto id = t.id;
  auto [r, added] = running_.emplace(
    id, running_task{n, t.fn, epoch, t.node_failures, t.priority, std::move(t.args),
                     t.accepted_us});
  static_cast<void>(added);
  note_start(n, id, r->second);
  ++adopted_;
  if (journal_)
    journal_->dispatched(id, epoch, n);
}

size_t scheduler_core::release_unadopted() {
  std::vector<task_id> all;
  all.reserve(unadopted_.size());
  for (auto& [id, w] : unadopted_)
    all.push_back(id);
  auto n = all.size();
  requeue_unadopted(std::move(all));
  return n;
}

void scheduler_core::requeue_unadopted(std::vector<task_id> ids) {
  // In id order at the front, as remove_node does: the newest pushed first.
  std::sort(ids.begin(), ids.end(), std::greater<>{});
  for (auto id : ids) {
    auto it = unadopted_.find(id);
    auto t = std::move(it->second.task);
    unadopted_.erase(it);
    // Not journaled: the journal put it at the front of pending on resuming.
    pending_.push_front(std::move(t));
  }
}

// -- adaptive prefetch -------------------------------------------------------------
//
// A node that holds only what it runs idles each slot for a round trip
// between tasks; holding `extra` more covers that round trip. On average
// the node's slots finish slots x rtt / run time tasks in one round trip;
// they end at random moments, so extra also covers two standard deviations
// of that count (as if it were Poisson), and is at least one: with 5 ms
// tasks on 10 slots (0.4 a round trip) holding two keeps 98 % of the slot
// time in tasks, holding none 92-96 %. Tasks longer than 50 round trips are
// "long": a slot idle for a round trip between them loses under 2 %, so
// nothing is held for them (gascheduler's semantics), and the slots they
// occupy count for nothing when extra is computed, so short tasks are not
// held behind them.

bool scheduler_core::is_long(node_index n, uint32_t fn) const noexcept {
  auto rtt = timing_[n].rtt_us;
  auto est = run_us_[fn];
  return rtt < 0 || est < 0 || est > long_task_round_trips * rtt;
}

uint32_t scheduler_core::hold_limit(node_index n, uint32_t fn) const noexcept {
  auto cap = nodes_.capacity(n);
  if (!adaptive())
    return nodes_.limit(n);
  auto& t = timing_[n];
  // A stalled node takes nothing more: what it holds may be taken back.
  if (is_long(n, fn) || t.long_held >= cap
      || (nodes_.running(n) >= cap && stalled(n, clock_())))
    return cap;
  auto slots = cap - t.long_held;
  auto per_rtt = slots * t.rtt_us / std::max(run_us_[fn], 0.1);
  auto want = std::max(1.0, std::ceil(per_rtt + 2 * std::sqrt(per_rtt)));
  auto most = static_cast<double>(slots) * limits_.max_prefetch;
  return cap + static_cast<uint32_t>(std::min(want, most));
}

void scheduler_core::note_start(node_index n, task_id id, running_task& r) {
  auto& t = timing_[n];
  r.dispatched_us = clock_();
  r.est_us = static_cast<uint32_t>(std::clamp(run_us_[r.fn], 0.0, 4e9));
  r.long_task = is_long(n, r.fn);
  if (nodes_.running(n) == 1)
    t.active_us = r.dispatched_us;  // an idle node's clock starts now
  t.long_held += r.long_task;
  t.est_sum_us += r.est_us;
  // Finished tasks leave the order lazily: from its front here (most finish
  // in order), or all at once when it has grown well past what the node holds.
  auto held = [&](task_id x) {
    auto it = running_.find(x);
    return it != running_.end() && it->second.node == n;
  };
  while (!t.order.empty() && !held(t.order.front()))
    t.order.pop_front();
  if (t.order.size() > 4 * size_t{nodes_.running(n)} + 64)
    t.order.erase(std::remove_if(t.order.begin(), t.order.end(),
                                 [&](task_id x) { return !held(x); }),
                  t.order.end());
  t.order.push_back(id);
}

void scheduler_core::note_stop(const running_task& r) {
  auto& t = timing_[r.node];
  t.long_held -= r.long_task;
  t.est_sum_us -= r.est_us;
}

void scheduler_core::observe(const running_task& r, run_timing t, uint64_t now) {
  auto& nt = timing_[r.node];
  nt.active_us = now;
  if (t.run_us == run_timing::no_timing || t.wait_us == run_timing::no_timing)
    return;
  ewma(run_us_[r.fn], t.run_us);
  auto sojourn = static_cast<double>(now - std::min(now, r.dispatched_us));
  ewma(nt.rtt_us, std::max(0.0, sojourn - t.run_us - t.wait_us));
}

// The node's run time excludes the round trip and any time the task was held
// there; a node that did not measure, or whose figure saturated (71 minutes),
// leaves the scheduler's own dispatch-to-result.
void scheduler_core::time_result(const running_task& r, run_timing t, uint64_t now) {
  auto since = [now](uint64_t then) { return now - std::min(now, then); };
  timings_.queue_wait.observe(r.dispatched_us - std::min(r.dispatched_us, r.accepted_us));
  timings_.run_time.observe(t.run_us < run_timing::no_timing - 1 ? t.run_us
                                                                  : since(r.dispatched_us));
  timings_.end_to_end.observe(since(r.accepted_us));
}

// No result for far longer than its tasks and a round trip take: its slots
// are stuck in tasks that turned out long.
bool scheduler_core::stalled(node_index n, uint64_t now) const noexcept {
  auto& t = timing_[n];
  auto held = std::max<uint32_t>(nodes_.running(n), 1);
  auto patience = 1000.0 + 4 * std::max(t.rtt_us, 0.0)
                  + 2.0 * static_cast<double>(t.est_sum_us) / held;
  return static_cast<double>(now - std::min(now, t.active_us)) > patience;
}

std::optional<task_id> scheduler_core::newest_held(node_index n) {
  auto& order = timing_[n].order;
  while (!order.empty()) {
    auto id = order.back();
    order.pop_back();
    auto it = running_.find(id);
    if (it != running_.end() && it->second.node == n)
      return id;
  }
  return std::nullopt;
}

void scheduler_core::take_back(task_id id, reclaim_result& out) {
  auto it = running_.find(id);
  out.moved.push_back(fenced_lease{it->second.node, id, it->second.epoch});
  auto accepted_us = it->second.accepted_us;
  auto t = stop(it);
  ++reclaimed_;
  if (journal_)
    journal_->requeued(id, t.node_failures);
  auto lease = t.epoch - epoch_base(generation_) + 1;
  pending_.push_front(
    queued_task{id, t.priority, t.fn, t.node_failures, std::move(t.args), lease, accepted_us});
}

reclaim_result scheduler_core::reclaim() {
  reclaim_result out;
  auto free = nodes_.least_loaded();
  if (!pending_.empty() || !free || nodes_.running(*free) >= nodes_.capacity(*free))
    return out;
  uint64_t free_slots = 0;
  nodes_.for_each([&](node_index n) {
    free_slots += nodes_.capacity(n) - std::min(nodes_.capacity(n), nodes_.running(n));
  });
  auto now = clock_();
  nodes_.for_each([&](node_index n) {
    auto cap = nodes_.capacity(n);
    if (nodes_.running(n) <= cap || free_slots == 0)
      return;
    out.watch = true;
    if (!stalled(n, now))
      return;
    while (nodes_.running(n) > cap && free_slots > 0) {
      auto id = newest_held(n);
      if (!id)
        break;
      take_back(*id, out);
      --free_slots;
    }
  });
  return out;
}

} // namespace gasched::detail
