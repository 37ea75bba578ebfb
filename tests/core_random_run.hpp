// One run of the randomized test: a scheduler_core on a real journal and a
// plain model of it, driven by the same random events and compared after
// each. Its parts live in core_random_run.cpp (the run and the model's
// rules), core_random_events.cpp, core_random_restart.cpp (the journal) and
// core_random_compare.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>

#include "core/scheduler_core.hpp"
#include "core_random_journals.hpp"
#include "core_random_support.hpp"
#include "journal/durable_journal.hpp"

namespace gasched::core_random {

class random_run {
public:
  random_run(uint64_t seed, caf::actor_system& sys, std::string path);

  // One random event, then the full comparison with the model.
  void step(int event);

  // Brings capacity back and finishes every task: each id must then have
  // ended exactly once.
  void drain();

  uint64_t tasks() const {
    return next_id_ - 1;
  }

  std::string where() const;

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

  // What the journal holds after a commit: a crash goes back to it.
  struct saved_model {
    task_id next_id = 1;
    std::map<int32_t, std::deque<task_id>, std::greater<>> pending;
    std::set<task_id> running;
    std::map<task_id, model_task> tasks;
    std::vector<uint32_t> results;
    uint64_t counts[6] = {};
  };

  int pick(int lo, int hi) {
    return std::uniform_int_distribution<int>{lo, hi}(rng_);
  }

  uint32_t capacity(const model_node& n) const {
    return n.slots == 0 ? max_workers_ : std::min(n.slots, max_workers_);
  }

  uint64_t max_pending() const {
    return core_->limits().max_pending;
  }

  uint32_t max_node_failures() const {
    return core_->limits().max_node_failures;
  }

  // -- the model's rules (core_random_run.cpp) ---------------------------------------
  core_limits pick_limits();
  void refresh_allowance(model_node& n);
  size_t pending_count() const;
  std::optional<node_index> least_loaded() const;
  void ended(task_id id);
  void left_running(task_id id);

  // -- events (core_random_events.cpp) -----------------------------------------------
  void execute();
  void pump();
  void finish_random(bool ok);
  void finish(task_id id, bool ok);
  void cancel();
  void late_result();
  void node_down();
  void node_up();
  void set_max_workers(uint32_t n);

  // -- the journal (core_random_restart.cpp) -----------------------------------------
  void commit();
  void restart(bool clean);
  void open_core(core_limits limits);
  void save();
  void revert();
  void check_result();

  // -- comparison (core_random_compare.cpp) -------------------------------------------
  void check_all();

  std::mt19937_64 rng_;
  caf::actor_system& sys_;
  std::string path_;
  lifecycle_journal journal_;
  tee_journal tee_;
  std::unique_ptr<durable_journal> store_;
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

} // namespace gasched::core_random
