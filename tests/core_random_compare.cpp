// The randomized test's comparison: after each event, everything the core
// shows must equal the model.
#include "core_random_run.hpp"

namespace gasched::core_random {

void random_run::check_all() {
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

} // namespace gasched::core_random
