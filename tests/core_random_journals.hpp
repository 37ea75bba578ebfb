// The journals of the randomized test: one that checks each task's changes
// as the core reports them, and one that hands every change to two others.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core_random_support.hpp"
#include "core/journal.hpp"

namespace gasched::core_random {

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

} // namespace gasched::core_random
