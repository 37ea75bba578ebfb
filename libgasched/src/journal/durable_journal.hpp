// The scheduler's journal: every change of a task's state, so that a
// scheduler that died resumes where it was, and every result for a while
// (keep_results), so that await(task_id) answers across a restart. Where it
// is kept is its store's business (journal_store.hpp: an SQLite file, or a
// PostgreSQL database); this class buffers and group-commits for both.
//
// Use, from the scheduler actor (one thread at a time):
//
//   auto j = durable_journal::open(sys, where, opts);  // locks, resumes
//   core.restore(j->take_snapshot());    // first thing on a new core
//   core.set_journal(j.get());
//   j->name_node(n, name);               // at every core.add_node
//   ... core calls go on as before; the journal buffers them ...
//   j->on_written(wake);                 // wake() runs on the writer's thread
//   j->start_commit();                   // when changes wait, none is written,
//                                        // and commit_delay() is zero (else later)
//   ... after wake(): j->finish_commit() // then what the commit made true:
//   // acknowledge task ids <= j->durable_id(); answer take_refused() ones
//   j->result_of(id);                    // await of a task no longer in the core
//
// Nothing reaches the file between commits: writes are buffered and one
// commit writes them all in one transaction, on the journal's own thread;
// what changes meanwhile waits for the next commit.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/journal.hpp"
#include "gasched/task.hpp"
#include "journal/change_buffer.hpp"
#include "journal/journal_store.hpp"
#include "journal/writer_thread.hpp"

namespace gasched::detail {

/// A finished task as the journal kept it.
struct stored_result {
  task_id id = 0;
  std::string function;
  caf::message args;
  int32_t priority = 0;
  std::string node;  ///< where it ended; empty if it ended pending
  outcome_kind how = outcome_kind::succeeded;
  caf::message value;
  caf::error error;
  int64_t finished_at = 0;  ///< unix time in ms

  /// The task_result a client gets, from scheduler `name`.
  task_result to_result(std::string name) &&;
};

class durable_journal final : public journal {
public:
  /// Opens the journal at `path`, an SQLite file or a PostgreSQL URL
  /// (postgresql://..., used alone: see pg_store), or creates it, and
  /// resumes it (see journal_store::resume). `sys` must know every type of
  /// the tasks' arguments and results (cfg.add_message_type). Error
  /// errc::journal_error, naming the file: not a gasched journal, corrupt,
  /// of a newer format, in use by another scheduler, unreadable or
  /// unwritable. A refused file is never altered.
  static caf::expected<std::unique_ptr<durable_journal>>
  open(caf::actor_system& sys, const std::string& path, journal_options opts = {});

  /// Resumes the journal kept in `store`.
  static caf::expected<std::unique_ptr<durable_journal>>
  open(caf::actor_system& sys, std::unique_ptr<journal_store> store, journal_options opts = {});

  /// Closes the file. What was not committed is lost, as in a crash.
  ~durable_journal() override;

  /// What the core restores (once; later calls give an empty snapshot).
  journal_snapshot take_snapshot();

  /// The core's node `n` is called `name` (results keep node names).
  void name_node(node_index n, const std::string& name);

  /// `wake` runs on the writer's thread when a commit ended.
  void on_written(std::function<void()> wake);

  /// What start_commit did.
  enum class started { nothing, fresh, again };

  /// Starts writing, on the writer's thread, every change since the last
  /// commit in one transaction (`fresh`), and now and then a prune of old
  /// results; or the commit that failed last, again, before anything newer
  /// (`again`). `nothing`: no change, or a commit is still being written.
  started start_commit();

  /// Under load, commits group more changes: once a commit of at least
  /// group_min_changes started, the next starts group_gap after it at the
  /// earliest. Measured (docs/benchmarks.md): 100,000 tasks in one batch made
  /// about 700 commits without a gap and about 90 with 2 ms, for about a fifth less
  /// of the bench process's CPU per task. Results and acknowledgements under
  /// load wait up to group_gap longer; a lone task's do not (its commit is small).
  static constexpr std::chrono::milliseconds group_gap{2};
  static constexpr size_t group_min_changes = 64;

  /// How long the next commit should wait at `now`; zero: start it now.
  std::chrono::steady_clock::duration
  commit_delay(std::chrono::steady_clock::time_point now) const noexcept {
    if (last_size_ < group_min_changes || now - last_start_ >= group_gap)
      return {};
    return group_gap - (now - last_start_);
  }

  /// Whether a commit is being written.
  bool writing() const noexcept {
    return thread_.in_hand();
  }

  /// The outcome of the commit being written, once it ended: none, or the
  /// error (disk full, I/O) after which nothing of it is in the file and the
  /// next start_commit writes it again. Nothing while it is still written.
  std::optional<caf::error> finish_commit();

  /// Writes everything now (the commit in hand, then the rest) and waits.
  caf::error commit();

  /// Every task with an id up to this one was committed (accepted durably),
  /// except those take_refused() reports.
  task_id durable_id() const noexcept {
    return durable_id_;
  }

  /// Whether changes wait for a commit.
  bool dirty() const noexcept {
    return !buffer_.empty() || !notes_changed_.empty() || again_;
  }

  /// Keeps a client's note with the next commit (note_atom).
  void set_note(std::string key, std::string value);

  /// The value last given for `key`; empty if none.
  std::string note(const std::string& key) const;

  /// `n` tasks are about to be enqueued (a batch): room for them at once,
  /// their arguments guessed from the last task's (but at most 256 bytes
  /// each: one large argument does not reserve gigabytes for a batch).
  void expect(size_t n) {
    buffer_.reserve(n, n * std::min<size_t>(args_bytes_, 256));
  }

  /// How many tasks changed since the last commit.
  size_t buffered() const noexcept {
    return buffer_.changes().size();
  }

  /// Tasks the journal cannot keep (their arguments do not serialize), with
  /// why: the scheduler should refuse them and cancel them in the core.
  std::vector<std::pair<task_id, caf::error>> take_refused();

  /// The result of a finished task, while it is kept. Error unknown_task:
  /// no kept result (never accepted, unfinished, or pruned); journal_error:
  /// the file could not be read.
  caf::expected<stored_result> result_of(task_id id);

  /// A commit in flight to a store that cannot be reached fails now
  /// (journal_store::cut): the scheduler stepped down and will not wait.
  void cut() noexcept {
    store_->cut();
  }

  /// Where it is kept (a path, or a URL without its password), for messages.
  const std::string& path() const noexcept {
    return store_->where();
  }

  // -- journal ---------------------------------------------------------------------

  void enqueued(task_id id, const std::string& function, const caf::message& args,
                int32_t priority) override;
  void dispatched(task_id id, uint32_t epoch, node_index node) override;
  void requeued(task_id id, uint32_t node_failures) override;
  void finished(task_id id, outcome_kind how, node_index node, const caf::message& value,
                const caf::error& error) override;

private:
  durable_journal(caf::actor_system& sys, journal_options opts);

  uint32_t function_number(const std::string& name);
  int64_t node_number(node_index n);
  arena_ref keep(const caf::message& x);
  arena_ref keep(const caf::error& x);
  arena_ref keep(const std::string& x);
  caf::expected<stored_result> kept_result(task_id id);
  caf::expected<stored_result> buffered_result(const change_buffer& buf,
                                               const task_change& c);
  caf::expected<stored_result> read_result(const char* args, size_t args_size,
                                           stored_result&& r, const char* value,
                                           size_t value_size, const char* error,
                                           size_t error_size);
  int64_t prune_before();

  caf::actor_system& sys_;
  journal_options opts_;
  std::unique_ptr<journal_store> store_;
  journal_meta meta_;
  journal_names names_;
  journal_notes notes_;  // every note, as the scheduler last set it
  size_t functions_written_ = 0;
  size_t nodes_written_ = 0;
  std::unordered_map<std::string, uint32_t> function_numbers_;
  std::unordered_map<std::string, int64_t> node_numbers_;
  std::vector<std::string> core_node_names_;  // by the core's node_index
  static constexpr int64_t unnumbered = -2;
  std::vector<int64_t> core_node_numbers_;  // node_number's, by node_index
  const std::string* last_function_ = nullptr;  // function_number's last
  uint32_t last_fn_ = 0;
  size_t args_bytes_ = 16;  // the last task's arguments, in bytes: expect()'s guess
  change_buffer buffer_;  // changes since the last commit started
  std::vector<std::pair<std::string, std::string>> notes_changed_;
  commit_batch batch_;  // being written, or failed and written again next
  bool again_ = false;  // batch_ failed: the next commit writes it again
  journal_snapshot snapshot_;
  task_id durable_id_ = 0;
  std::vector<std::pair<task_id, caf::error>> refused_;
  std::unordered_set<task_id> refused_ids_;  // refused and not yet ended
  std::chrono::steady_clock::time_point last_prune_{};
  std::chrono::steady_clock::time_point last_start_{};  // of the last fresh commit
  size_t last_size_ = 0;                                // its changes
  bool prune_more_ = true;  // the last prune hit its limit, or none ran yet
  writer_thread thread_;    // last: joined before the rest goes
};

} // namespace gasched::detail
