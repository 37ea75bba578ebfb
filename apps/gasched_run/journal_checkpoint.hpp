// --journal: how far a run of a task file has got, kept as a note in the
// scheduler's journal (note_atom), so that the same command started again
// after gasched-run died (kill -9 included) finishes the batch, and --out's
// file ends with every line's result exactly once.
//
// A checkpoint is taken when no batch of tasks waits for its ids: the
// output is flushed and fsynced (its length and hash are recorded), and so
// is the position in the task file up to which every line was taken (a
// task with its id, or a malformed line), with the tasks taken whose result
// line the output does not hold yet. A resumed run cuts the output back to
// the recorded length, awaits those tasks' ids again (their results come
// from the journal, or when the resumed tasks end), and reads the task file
// on from the recorded position. Tasks accepted after the last checkpoint
// are submitted again: they may run twice, their result is written once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gasched/task.hpp"
#include "gasched_run/byte_hash.hpp"
#include "gasched_run/result_writer.hpp"

namespace gasched::run {

/// The key of gasched-run's note in a journal.
inline constexpr const char* note_key = "gasched-run";

/// A task taken, its result line not yet in the output.
struct held_task {
  uint64_t line = 0;
  task_id id = 0;
  std::string function;
};

struct run_checkpoint {
  bool out_file = false;  ///< the results go to --out's file (else stdout)
  bool ordered = false;   ///< --ordered
  written_output out;     ///< what the output holds, durably
  input_position input;   ///< every line up to here was taken
  std::vector<held_task> tasks;  ///< taken, no result line yet; by line
  /// --ordered: malformed lines' result lines waiting for their turn.
  std::vector<std::pair<uint64_t, std::string>> texts;
  task_id max_id = 0;  ///< the highest id the run knew of
  bool done = false;   ///< the task file ended, every line has its result line

  size_t held() const noexcept {
    return tasks.size() + texts.size();
  }
};

std::string encode(const run_checkpoint& cp);

/// Throws std::runtime_error naming `journal` when `note` is no checkpoint
/// this version of gasched-run reads.
run_checkpoint decode(const std::string& note, const std::string& journal);

/// The checkpoint of a run whose output holds `base.out` and that took the
/// task file up to `base.input`; the lines held come from `writer`, their
/// ids from `in_flight` (ids of tasks without a result yet, to their lines).
/// nullopt when a held task has no id yet: no checkpoint now.
std::optional<run_checkpoint> make_checkpoint(run_checkpoint base, const result_writer& writer,
                                          const std::unordered_map<task_id, uint64_t>& in_flight);

/// Refuses (std::runtime_error naming the journal) to resume `cp` with
/// other output options than the run that wrote it.
void check_same_output(const run_checkpoint& cp, bool out_file, const std::string& journal);

} // namespace gasched::run
