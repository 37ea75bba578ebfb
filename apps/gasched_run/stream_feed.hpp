// --tasks' feed: a task file's lines into the run, their results out
// through the result writer, with --journal's checkpoints.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gasched_run/cluster.hpp"
#include "gasched_run/result_writer.hpp"
#include "gasched_run/task_file.hpp"
#include "gasched_run/task_reader.hpp"

namespace gasched::run {

struct options;
class progress;

// The reader's lines into the run, their results out through the writer:
// bad lines are reported as they are taken, tasks enter in input order.
// With --journal, checkpoints (journal_checkpoint.hpp) about every second
// while lines are taken or written.
class stream_feed : public task_feed {
public:
  stream_feed(task_reader& reader, result_writer& writer, std::string name, progress& display,
              const options& opts)
    : reader_(reader), writer_(writer), name_(std::move(name)), display_(display), opts_(opts) {
  }

  void start(std::function<void()> wake) override {
    reader_.set_wake(std::move(wake));
  }

  // Takes lines until a task comes or the input ends (false: `stop` said to
  // give up first): the cluster starts with the first task, and an input
  // without any runs nothing. The tasks taken wait for the first take().
  bool prime(const std::function<bool()>& stop);

  bool has_tasks() const noexcept {
    return !carry_.empty();
  }

  void take(std::vector<std::pair<uint64_t, task>>& out, size_t max) override;

  bool ended() override {
    return carry_.empty() && reader_.ended();
  }

  void idle() override {
    writer_.flush();
  }

  std::pair<uint64_t, uint64_t> bytes() override {
    return {reader_.bytes_read(), reader_.bytes_total()};
  }

  size_t malformed() const noexcept {
    return malformed_;
  }

  // Often (every 100 ms) while a checkpoint is cheap, so that a run killed
  // again and again still gets on; at most 1/20 of the main thread's time
  // when many lines are held (a large --max-pending), at least every second.
  bool checkpoint_due() override;

  std::optional<std::string> checkpoint(const std::unordered_map<task_id, uint64_t>& in_flight,
                                        task_id max_id, bool last) override;

  void checkpointed(const std::string& error) override;

private:
  void bad(const bad_line& b);

  task_reader& reader_;
  result_writer& writer_;
  std::string name_;
  progress& display_;
  const options& opts_;
  size_t malformed_ = 0;
  std::chrono::steady_clock::time_point checkpointed_at_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration checkpoint_cost_{};
  written_counts recorded_;
  uint64_t recorded_line_ = 0;
  bool warned_ = false;
  std::vector<std::pair<uint64_t, task>> carry_;
};

} // namespace gasched::run
