// A randomized test of scheduler_core against a reference model.
//
// Thousands of random events (execute, success, failure, node down, node up,
// set_max_workers, cancel, late results, dispatch, journal commits, and
// restarts of the scheduler from its journal, clean or after a crash that
// loses what was not committed) are applied both to the core and to a plain
// model written here from gascheduler's semantics; after EACH event every
// observable part of the core, and the journal's kept results, must equal
// the model. The seed
// is printed; GASCHED_SEED=<n> reruns the same runs:
//   GASCHED_SEED=123 build/tests/gasched_core_tests "[random]"
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <unistd.h>

#include "core/scheduler_core.hpp"
#include "gasched/errc.hpp"
#include "journal/sqlite_journal.hpp"

using namespace gasched;
using namespace gasched::detail;

namespace {

constexpr int runs = 20;
constexpr int events_per_run = 3000;

// A difference between the core and the model; the run reports it with the
// seed and the event number.
struct mismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Cheap when it holds: the message is built only on failure.
#define EXPECT(cond, ...)                                                        \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::ostringstream os_;                                                    \
      os_ << "expected " #cond ": " << __VA_ARGS__;                              \
      throw mismatch(os_.str());                                                 \
    }                                                                            \
  } while (false)

// A task's function and arguments follow from its id, so the model need not
// store them: one int32 and two scalars are stored inline by the queue, the
// string by reference.
std::string function_for(task_id id) {
  return "fn" + std::to_string(id % 4);
}

caf::message args_for(task_id id) {
  switch (id % 3) {
    case 0: return caf::make_message(int32_t(id));
    case 1: return caf::make_message(int64_t(id) << 33, -int32_t(id));
    default: return caf::make_message("task " + std::to_string(id));
  }
}

bool args_match(task_id id, const caf::message& msg) {
  switch (id % 3) {
    case 0:
      return msg.size() == 1 && msg.match_elements<int32_t>()
             && msg.get_as<int32_t>(0) == int32_t(id);
    case 1:
      return msg.size() == 2 && msg.match_elements<int64_t, int32_t>()
             && msg.get_as<int64_t>(0) == int64_t(id) << 33
             && msg.get_as<int32_t>(1) == -int32_t(id);
    default:
      return msg.size() == 1 && msg.match_elements<std::string>()
             && msg.get_as<std::string>(0) == "task " + std::to_string(id);
  }
}

// Follows each task through the journal: every change must be legal, a
// dispatch's epoch must be its generation's base plus the node deaths since
// the last restart, and a requeue must count one more node death.
struct lifecycle_journal : journal {
  enum state { none, pending, running, done };
  std::vector<state> states{none};  // by id; id 0 is never used
  std::vector<uint32_t> epochs{0};  // of the next dispatch
  std::vector<uint32_t> failures{0};
  uint32_t base = 0;
  std::string error;

  state& of(task_id id) {
    if (id >= states.size()) {
      states.resize(id + 1, none);
      epochs.resize(id + 1, 0);
      failures.resize(id + 1, 0);
    }
    return states[id];
  }
  void fail(const std::string& what, task_id id) {
    if (error.empty())
      error = "journal: " + what + " of task " + std::to_string(id);
  }
  void enqueued(task_id id, const std::string& fn, const caf::message& args,
                int32_t) override {
    if (of(id) != none || fn != function_for(id) || !args_match(id, args))
      fail("bad enqueued", id);
    of(id) = pending;
    epochs[id] = base;
  }
  void dispatched(task_id id, uint32_t epoch, node_index) override {
    if (of(id) != pending || epoch != epochs[id])
      fail("bad dispatched", id);
    of(id) = running;
  }
  void requeued(task_id id, uint32_t node_failures) override {
    if (of(id) != running || node_failures != failures[id] + 1)
      fail("bad requeued", id);
    failures[id] = node_failures;
    ++epochs[id];
    of(id) = pending;
  }
  void finished(task_id id, outcome_kind, node_index, const caf::message&,
                const caf::error&) override {
    if (of(id) != pending && of(id) != running)
      fail("bad finished", id);
    of(id) = done;
  }
  // A restart: ids below next_id ended, except those resume() names.
  void restart(uint32_t generation, task_id next_id) {
    base = epoch_base(generation);
    states.assign(next_id, done);
    epochs.assign(next_id, 0);
    failures.assign(next_id, 0);
    states[0] = none;
  }
  void resume(task_id id, uint32_t node_failures) {
    states[id] = pending;
    epochs[id] = base;
    failures[id] = node_failures;
  }
};

// Hands each change to two journals: the checks above and the real store.
struct tee_journal : journal {
  journal* a = nullptr;
  journal* b = nullptr;
  void enqueued(task_id id, const std::string& fn, const caf::message& args,
                int32_t prio) override {
    a->enqueued(id, fn, args, prio);
    b->enqueued(id, fn, args, prio);
  }
  void dispatched(task_id id, uint32_t epoch, node_index node) override {
    a->dispatched(id, epoch, node);
    b->dispatched(id, epoch, node);
  }
  void requeued(task_id id, uint32_t node_failures) override {
    a->requeued(id, node_failures);
    b->requeued(id, node_failures);
  }
  void finished(task_id id, outcome_kind how, node_index node, const caf::message& value,
                const caf::error& error) override {
    a->finished(id, how, node, value, error);
    b->finished(id, how, node, value, error);
  }
};

class random_run {
public:
  random_run(uint64_t seed, caf::actor_system& sys, std::string path)
    : rng_(seed), sys_(sys), path_(std::move(path)) {
    auto limits = pick_limits();
    max_workers_ = limits.max_workers;
    results_.push_back(0);  // id 0
    open_core(limits);
    for (auto n = pick(0, 3); n > 0; --n)
      node_up();
  }

  // One random event, then the full comparison with the model.
  void step(int event) {
    event_ = event;
    auto roll = pick(0, 104);
    if (roll < 24)
      execute();
    else if (roll < 44)
      pump();
    else if (roll < 64)
      finish_random(true);
    else if (roll < 72)
      finish_random(false);
    else if (roll < 79)
      cancel();
    else if (roll < 85)
      late_result();
    else if (roll < 90)
      node_down();
    else if (roll < 95)
      node_up();
    else if (roll < 100)
      set_max_workers(static_cast<uint32_t>(pick(0, 5)));
    else if (roll < 103)
      commit();
    else
      restart(pick(0, 1) == 0);
    check_all();
  }

  // Brings capacity back and finishes every task: each id must then have
  // ended exactly once.
  void drain() {
    event_ = events_per_run;  // reported as the event after the last
    if (max_workers_ == 0)
      set_max_workers(3);
    if (nodes_.empty())
      node_up();
    for (int round = 0; pending_count() + running_.size() > 0; ++round) {
      EXPECT(round < 100000, "drain does not end");
      pump();
      auto ids = std::vector<task_id>(running_.begin(), running_.end());
      for (auto id : ids)
        finish(id, pick(0, 3) != 0);
      check_all();
    }
    EXPECT(core_->idle(), "the core is idle after the drain");
    for (task_id id = 1; id < next_id_; ++id) {
      EXPECT(results_[id] == 1, "task " << id << " ended " << results_[id] << " times");
      EXPECT(journal_.of(id) == lifecycle_journal::done,
             "the journal saw task " << id << " finish");
    }
    auto& c = core_->count();
    EXPECT(c.succeeded + c.failed + c.cancelled + c.quarantined == next_id_ - 1,
           "every accepted task ended in one counter");
  }

  uint64_t tasks() const {
    return next_id_ - 1;
  }

  std::string where() const {
    std::ostringstream os;
    os << "event " << event_ << " (" << last_ << ")";
    return os.str();
  }

private:
  struct model_task {
    int32_t priority = 0;
    uint32_t epoch = 0;  // of its lease: the generation's base + deaths since
    node_index node = no_node;
    uint32_t node_failures = 0;
  };

  struct model_node {
    uint32_t slots = 0;
    uint32_t running = 0;
    // The most tasks it may run: its capacity, or more while tasks started
    // before max_workers was lowered still run. Shrinks as they end.
    uint32_t allowance = 0;
  };

  int pick(int lo, int hi) {
    return std::uniform_int_distribution<int>{lo, hi}(rng_);
  }

  core_limits pick_limits() {
    core_limits l;
    l.max_workers = static_cast<uint32_t>(pick(1, 4));
    static const uint64_t max_pending[] = {0, 0, 15, 40};
    l.max_pending = max_pending[pick(0, 3)];
    static const uint32_t max_node_failures[] = {1, 2, 3, infinity};
    l.max_node_failures = max_node_failures[pick(0, 3)];
    return l;
  }

  uint32_t capacity(const model_node& n) const {
    return n.slots == 0 ? max_workers_ : std::min(n.slots, max_workers_);
  }

  void refresh_allowance(model_node& n) {
    n.allowance = std::max(capacity(n), n.running);
  }

  size_t pending_count() const {
    size_t n = 0;
    for (auto& [prio, ids] : pending_)
      n += ids.size();
    return n;
  }

  // The node gascheduler's rule picks: fewest running relative to capacity,
  // among nodes with a free slot; ties go to the lowest index.
  std::optional<node_index> least_loaded() const {
    std::optional<node_index> best;
    for (auto& [i, n] : nodes_) {
      if (n.running >= capacity(n))
        continue;
      if (!best) {
        best = i;
        continue;
      }
      auto& b = nodes_.at(*best);
      if (uint64_t{n.running} * capacity(b) < uint64_t{b.running} * capacity(n))
        best = i;
    }
    return best;
  }

  void ended(task_id id) {
    EXPECT(results_[id] == 0, "task " << id << " ended a second time");
    ++results_[id];
    tasks_.erase(id);
  }

  // The task left running on its node (any way): its slot frees.
  void left_running(task_id id) {
    auto& t = tasks_.at(id);
    auto& n = nodes_.at(t.node);
    --n.running;
    refresh_allowance(n);
    running_.erase(id);
    stale_.emplace_back(id, t.epoch);  // a result for this lease is late now
    ++ticks_;
  }

  // -- events ----------------------------------------------------------------------

  void execute() {
    static const int32_t priorities[] = {-1, 0, 0, 0, 3, 7};
    auto prio = priorities[pick(0, 5)];
    last_ = "execute priority " + std::to_string(prio);
    auto id = next_id_;
    auto full = max_pending() != 0 && pending_count() >= max_pending();
    auto res = core_->enqueue(function_for(id), args_for(id), prio);
    if (full) {
      EXPECT(!res && is(res.error(), errc::queue_full), "queue_full at max_pending");
      return;
    }
    EXPECT(res && *res == id, "task ids grow by one");
    ++next_id_;
    results_.push_back(0);
    tasks_[id] = model_task{prio, epoch_base(generation_), no_node, 0};
    pending_[prio].push_back(id);
  }

  // The core's dispatch must take the model's next task to the model's node,
  // and stop only when no task or no free slot is left.
  void pump() {
    last_ = "dispatch";
    core_->dispatch([&](const dispatch_order& o) {
      EXPECT(!pending_.empty(), "dispatch of task " << o.id << " with nothing pending");
      auto node = least_loaded();
      EXPECT(node.has_value(), "dispatch of task " << o.id << " with no free slot");
      auto lvl = pending_.begin();
      auto id = lvl->second.front();
      EXPECT(o.id == id, "dispatch of task " << o.id << ", the next is " << id);
      EXPECT(o.node == *node, "task " << id << " to node " << o.node << ", not " << *node);
      auto& t = tasks_.at(id);
      EXPECT(o.epoch == t.epoch, "task " << id << " epoch " << o.epoch);
      EXPECT(core_->function_name(o.fn) == function_for(id), "task " << id << " function");
      EXPECT(args_match(id, o.args), "task " << id << " arguments");
      lvl->second.pop_front();
      if (lvl->second.empty())
        pending_.erase(lvl);
      t.node = *node;
      running_.insert(id);
      ++nodes_.at(*node).running;
    });
    EXPECT(pending_.empty() || !least_loaded(), "dispatch left a free slot unused");
  }

  void finish_random(bool ok) {
    if (running_.empty())
      return pump();
    auto it = running_.begin();
    std::advance(it, pick(0, static_cast<int>(running_.size()) - 1));
    finish(*it, ok);
  }

  void finish(task_id id, bool ok) {
    last_ = std::string(ok ? "success" : "failure") + " of task " + std::to_string(id);
    auto t = tasks_.at(id);
    auto res = core_->complete(id, t.epoch, ok);
    EXPECT(res, "the current lease of task " << id << " is accepted");
    EXPECT(res->id == id && res->was_running && res->node == t.node
             && res->epoch == t.epoch && res->priority == t.priority,
           "task " << id << ": ended_task fields");
    EXPECT(core_->function_name(res->fn) == function_for(id) && args_match(id, res->args),
           "task " << id << ": function and arguments");
    left_running(id);
    ++(ok ? succeeded_ : failed_);
    ended(id);
  }

  // Of an unfinished task mostly; else of any id, ended or never given out.
  void cancel() {
    auto id = static_cast<task_id>(pick(0, static_cast<int>(next_id_) + 2));
    if (!tasks_.empty() && pick(0, 2) != 0) {
      auto it = tasks_.begin();
      std::advance(it, pick(0, static_cast<int>(tasks_.size()) - 1));
      id = it->first;
    }
    last_ = "cancel " + std::to_string(id);
    auto res = core_->cancel(id);
    auto found = tasks_.find(id);
    if (found == tasks_.end()) {
      EXPECT(!res, "cancel of unknown task " << id << " returns nothing");
      return;
    }
    auto t = found->second;
    EXPECT(res && res->id == id && res->priority == t.priority,
           "cancel of task " << id << " returns it");
    EXPECT(core_->function_name(res->fn) == function_for(id) && args_match(id, res->args),
           "task " << id << ": function and arguments");
    if (running_.count(id) > 0) {
      EXPECT(res->was_running && res->node == t.node && res->epoch == t.epoch,
             "cancel of running task " << id);
      left_running(id);
    } else {
      EXPECT(!res->was_running && res->node == no_node,
             "cancel of pending task " << id);
      auto& q = pending_.at(t.priority);
      q.erase(std::find(q.begin(), q.end(), id));
      if (q.empty())
        pending_.erase(t.priority);
    }
    ++cancelled_;
    ended(id);
  }

  // A result that must not count: a lease of a dead node, of a cancelled or
  // finished task, a future epoch, or an id never given out.
  void late_result() {
    task_id id;
    uint32_t epoch;
    auto kind = pick(0, 5);
    if (kind <= 3 && !stale_.empty()) {
      auto i = static_cast<size_t>(pick(0, static_cast<int>(stale_.size()) - 1));
      std::tie(id, epoch) = stale_[i];
    } else if (kind == 4 && !running_.empty()) {
      id = *running_.begin();
      epoch = tasks_.at(id).epoch + 1;
    } else {
      id = next_id_ + static_cast<task_id>(pick(0, 2));
      epoch = 0;
    }
    last_ = "late result of task " + std::to_string(id) + " epoch "
            + std::to_string(epoch);
    EXPECT(!core_->complete(id, epoch, pick(0, 1) == 0), "the result is late");
    ++late_results_;
  }

  void node_down() {
    if (nodes_.empty())
      return;
    auto it = nodes_.begin();
    std::advance(it, pick(0, static_cast<int>(nodes_.size()) - 1));
    auto n = it->first;
    last_ = "node " + std::to_string(n) + " down";
    std::vector<task_id> lost;  // ascending
    for (auto id : running_)
      if (tasks_.at(id).node == n)
        lost.push_back(id);
    auto quarantined = core_->remove_node(n);
    // Quarantined tasks come back in id order; the others go to the front of
    // their priority in id order, so push the newest first.
    size_t q = 0;
    for (auto id : lost) {
      auto t = tasks_.at(id);
      if (max_node_failures() == infinity || t.node_failures + 1 < max_node_failures())
        continue;
      EXPECT(q < quarantined.size() && quarantined[q].id == id,
             "task " << id << " is quarantined, in id order");
      EXPECT(quarantined[q].was_running && quarantined[q].node == n
               && quarantined[q].epoch == t.epoch
               && quarantined[q].node_failures == t.node_failures + 1,
             "quarantined task " << id << " fields");
      ++q;
    }
    EXPECT(q == quarantined.size(), quarantined.size() << " quarantined, not " << q);
    for (auto id = lost.rbegin(); id != lost.rend(); ++id) {
      left_running(*id);
      auto& t = tasks_.at(*id);
      t.node = no_node;
      if (max_node_failures() != infinity && t.node_failures + 1 >= max_node_failures()) {
        ++quarantined_;
        ended(*id);
        continue;
      }
      ++t.epoch;
      ++t.node_failures;
      ++requeued_;
      pending_[t.priority].push_front(*id);
    }
    nodes_.erase(n);
    dead_.insert(n);
  }

  void node_up() {
    if (nodes_.size() >= 6)
      return;
    auto slots = static_cast<uint32_t>(pick(0, 5));
    last_ = "node up, " + std::to_string(slots) + " slots";
    auto n = core_->add_node(slots);
    store_->name_node(n, "node-" + std::to_string(n));
    // A dead node's index is reused before a new one is taken.
    if (!dead_.empty()) {
      EXPECT(dead_.count(n) > 0, "node " << n << " reuses a dead index");
      dead_.erase(n);
    } else {
      EXPECT(n == index_count_, "node " << n << " is index " << index_count_);
      ++index_count_;
    }
    last_ += " (node " + std::to_string(n) + ")";
    auto& node = nodes_[n];
    node = model_node{slots, 0, 0};
    refresh_allowance(node);
  }

  void set_max_workers(uint32_t n) {
    last_ = "set_max_workers " + std::to_string(n);
    core_->set_max_workers(n);
    max_workers_ = n;
    for (auto& [i, node] : nodes_)
      refresh_allowance(node);
  }

  // -- the journal -----------------------------------------------------------------

  void commit() {
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
  void restart(bool clean) {
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

  void open_core(core_limits limits) {
    journal_options opts;
    opts.sync_every_commit = false;
    auto j = sqlite_journal::open(sys_, path_, opts);
    EXPECT(j, "the journal opens: " << describe(j.error()));
    store_ = std::move(*j);
    core_ = std::make_unique<scheduler_core>(limits);
    auto err = core_->restore(store_->take_snapshot());
    EXPECT(!err, "restore: " << describe(err));
    journal_.restart(generation_, next_id_);
    for (auto& [id, t] : tasks_)
      journal_.resume(id, t.node_failures);
    tee_.a = &journal_;
    tee_.b = store_.get();
    core_->set_journal(&tee_);
    save();
  }

  // What the journal holds after a commit: a crash goes back to it.
  struct saved_model {
    task_id next_id = 1;
    std::map<int32_t, std::deque<task_id>, std::greater<>> pending;
    std::set<task_id> running;
    std::map<task_id, model_task> tasks;
    std::vector<uint32_t> results;
    uint64_t counts[6] = {};
  };

  void save() {
    saved_ = saved_model{next_id_, pending_, running_, tasks_, results_,
                         {ticks_, succeeded_, failed_, cancelled_, requeued_, quarantined_}};
  }

  void revert() {
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
  void check_result() {
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

  // -- comparison ------------------------------------------------------------------

  uint64_t max_pending() const {
    return core_->limits().max_pending;
  }

  uint32_t max_node_failures() const {
    return core_->limits().max_node_failures;
  }

  void check_all() {
    EXPECT(journal_.error.empty(), journal_.error);
    EXPECT(core_->pending() == pending_count(), "pending " << core_->pending());
    EXPECT(core_->running() == running_.size(), "running " << core_->running());
    EXPECT(core_->idle() == (pending_.empty() && running_.empty()), "idle");
    EXPECT(core_->has_room(1) == (max_pending() == 0 || pending_count() < max_pending()),
           "has_room");

    // Counters.
    auto& c = core_->count();
    EXPECT(c.ticks == ticks_, "ticks " << c.ticks << ", model " << ticks_);
    EXPECT(c.succeeded == succeeded_, "succeeded " << c.succeeded);
    EXPECT(c.failed == failed_, "failed " << c.failed);
    EXPECT(c.cancelled == cancelled_, "cancelled " << c.cancelled);
    EXPECT(c.requeued == requeued_, "requeued " << c.requeued);
    EXPECT(c.quarantined == quarantined_, "quarantined " << c.quarantined);
    EXPECT(c.late_results == late_results_, "late_results " << c.late_results);

    // Nodes: the same ones, the same load, none over its allowance.
    auto& table = core_->nodes();
    EXPECT(table.size() == nodes_.size(), "nodes " << table.size());
    EXPECT(table.max_workers() == max_workers_, "max_workers " << table.max_workers());
    for (auto& [i, n] : nodes_) {
      EXPECT(table.live(i), "node " << i << " is live");
      EXPECT(table.running(i) == n.running,
             "node " << i << " runs " << table.running(i) << ", model " << n.running);
      EXPECT(table.capacity(i) == capacity(n), "node " << i << " capacity");
      EXPECT(n.running <= n.allowance,
             "node " << i << " runs " << n.running << " > allowance " << n.allowance);
    }
    for (auto i : dead_)
      EXPECT(!table.live(i), "node " << i << " is dead");
    EXPECT(table.least_loaded() == least_loaded(), "least_loaded");

    // Every unfinished task in exactly one place: pending in dispatch order
    // (priority, requeued first, FIFO), then running by id.
    std::vector<task_id> expected;
    for (auto& [prio, ids] : pending_)
      expected.insert(expected.end(), ids.begin(), ids.end());
    expected.insert(expected.end(), running_.begin(), running_.end());
    size_t pos = 0;
    core_->for_each_unfinished([&](task_id id, const std::string& fn,
                                  const caf::message& args, int32_t prio) {
      EXPECT(pos < expected.size() && expected[pos] == id,
             "unfinished #" << pos << " is task " << id << ", model "
                            << (pos < expected.size() ? expected[pos] : 0));
      auto& t = tasks_.at(id);
      EXPECT(prio == t.priority && fn == function_for(id) && args_match(id, args),
             "task " << id << " priority, function, arguments");
      ++pos;
    });
    EXPECT(pos == expected.size(), "unfinished count " << pos);
    size_t seen = 0;
    core_->for_each_running([&](task_id id, node_index node, uint32_t epoch) {
      EXPECT(running_.count(id) > 0, "task " << id << " runs");
      auto& t = tasks_.at(id);
      EXPECT(node == t.node && epoch == t.epoch, "task " << id << " lease");
      ++seen;
    });
    EXPECT(seen == running_.size(), "running count");

    // unfinished() of a random id, known or not.
    auto id = static_cast<task_id>(pick(0, static_cast<int>(next_id_)));
    EXPECT(core_->unfinished(id) == (tasks_.count(id) > 0), "unfinished(" << id << ")");
    check_result();
  }

  std::mt19937_64 rng_;
  caf::actor_system& sys_;
  std::string path_;
  lifecycle_journal journal_;
  tee_journal tee_;
  std::unique_ptr<sqlite_journal> store_;
  std::unique_ptr<scheduler_core> core_;
  saved_model saved_;
  uint32_t generation_ = 0;
  int event_ = 0;
  std::string last_ = "setup";

  // The model.
  uint32_t max_workers_ = 0;
  task_id next_id_ = 1;
  std::map<int32_t, std::deque<task_id>, std::greater<>> pending_;
  std::set<task_id> running_;
  std::map<task_id, model_task> tasks_;  // pending or running
  std::map<node_index, model_node> nodes_;
  std::set<node_index> dead_;
  node_index index_count_ = 0;
  std::vector<uint32_t> results_;  // results per id
  std::vector<std::pair<task_id, uint32_t>> stale_;  // leases that no longer count
  uint64_t ticks_ = 0, succeeded_ = 0, failed_ = 0, cancelled_ = 0, requeued_ = 0,
           quarantined_ = 0, late_results_ = 0;
};

uint64_t base_seed() {
  if (auto env = std::getenv("GASCHED_SEED"))
    return std::strtoull(env, nullptr, 10);
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

} // namespace

TEST_CASE("scheduler_core matches the model under random events", "[core][random]") {
  auto base = base_seed();
  WARN("core random test: " << runs << " runs x " << events_per_run
                            << " events, seeds GASCHED_SEED=" << base << " + run");
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  // In memory where there is a tmpfs: the journal's fsyncs are not under test.
  std::string name = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  name += "/gasched-random-XXXXXX";
  std::string dir = ::mkdtemp(name.data());
  struct remove_at_end {
    std::string dir;
    ~remove_at_end() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  uint64_t tasks = 0;
  for (int run = 0; run < runs; ++run) {
    auto seed = base + static_cast<uint64_t>(run);
    INFO("GASCHED_SEED=" << base << ", run " << run << ", seed " << seed);
    random_run r{seed, sys, dir + "/run-" + std::to_string(run) + ".db"};
    try {
      for (int event = 0; event < events_per_run; ++event)
        r.step(event);
      r.drain();
    } catch (const mismatch& e) {
      FAIL("seed " << seed << ", " << r.where() << ": " << e.what());
    }
    tasks += r.tasks();
  }
  CHECK(tasks > 0);
}
