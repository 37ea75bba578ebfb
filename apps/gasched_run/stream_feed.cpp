#include "gasched_run/stream_feed.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gasched_run/journal_checkpoint.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/progress.hpp"

namespace gasched::run {

bool stream_feed::prime(const std::function<bool()>& stop) {
  while (carry_.empty() && !reader_.ended()) {
    if (!reader_.wait_for_lines(stop))
      return false;
    take(carry_, 1);
  }
  return true;
}

void stream_feed::take(std::vector<std::pair<uint64_t, task>>& out, size_t max) {
  size_t carried = 0;
  if (!carry_.empty() && &out != &carry_) {
    carried = carry_.size();
    out.insert(out.end(), std::make_move_iterator(carry_.begin()),
               std::make_move_iterator(carry_.end()));
    carry_.clear();
  }
  if (carried >= max)
    return;
  task_file batch;
  reader_.take(batch, max - carried);
  // Both lists are in line order: merged, so that --ordered sees input order.
  size_t b = 0;
  for (auto& t : batch.tasks) {
    for (; b < batch.bad.size() && batch.bad[b].line < t.line; ++b)
      bad(batch.bad[b]);
    writer_.add_task(t.line, t.task.function);
    out.emplace_back(t.line, std::move(t.task));
  }
  for (; b < batch.bad.size(); ++b)
    bad(batch.bad[b]);
}

bool stream_feed::checkpoint_due() {
  using namespace std::chrono_literals;
  auto now = std::chrono::steady_clock::now();
  auto every = std::clamp<std::chrono::steady_clock::duration>(20 * checkpoint_cost_, 100ms,
                                                               1s);
  if (opts_.journal.empty() || now - checkpointed_at_ < every)
    return false;
  auto& c = writer_.counts();
  auto moved = c.ok + c.failed + c.malformed != recorded_.ok + recorded_.failed
                                                 + recorded_.malformed
               || reader_.taken().line != recorded_line_;
  if (!moved)
    checkpointed_at_ = now;  // nothing to record: look again in a second
  return moved;
}

std::optional<std::string>
stream_feed::checkpoint(const std::unordered_map<task_id, uint64_t>& in_flight, task_id max_id,
                        bool last) {
  auto started = std::chrono::steady_clock::now();
  run_checkpoint base;
  base.out_file = !opts_.out_file.empty();
  base.ordered = opts_.ordered;
  base.out = writer_.sync();
  base.input = reader_.taken();
  base.max_id = max_id;
  base.done = last && ended() && writer_.held() == 0;
  auto cp = make_checkpoint(std::move(base), writer_, in_flight);
  if (!cp)
    return std::nullopt;
  recorded_ = cp->out.counts;
  recorded_line_ = cp->input.line;
  auto note = encode(*cp);
  checkpointed_at_ = std::chrono::steady_clock::now();
  checkpoint_cost_ = checkpointed_at_ - started;
  return note;
}

void stream_feed::checkpointed(const std::string& error) {
  if (error.empty() || warned_)
    return;
  warned_ = true;  // once: a full disk fails every commit alike
  display_.error("warning: could not record the run's progress in " + opts_.journal + ": "
                 + error + "; started again, it would go on from its last record");
}

void stream_feed::bad(const bad_line& b) {
  ++malformed_;
  display_.error(fmt::format("{}:{}: {}", name_, b.line, b.reason));
  writer_.add_bad(b);
}

} // namespace gasched::run
