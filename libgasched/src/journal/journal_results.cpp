// sqlite_journal: the results it keeps, for await across a restart.
#include "journal/sqlite_journal.hpp"

#include <sqlite3.h>

#include "gasched/errc.hpp"
#include "journal/blob.hpp"

namespace gasched::detail {

task_result stored_result::to_result(std::string name) && {
  task_result r;
  r.scheduler = std::move(name);
  r.id = id;
  r.value = std::move(value);
  r.error = std::move(error);
  r.node = std::move(node);
  r.task = task{std::move(function), std::move(args), priority};
  return r;
}

caf::expected<stored_result> sqlite_journal::result_of(task_id id) {
  if (auto c = buffer_.find(id); c != nullptr && c->state == task_state::finished)
    return buffered_result(buffer_, *c);
  // The file is the writer's while it writes; after that, a result of the
  // batch it wrote is in the file, or still in the batch if the write failed.
  thread_.wait_ended();
  auto kept = kept_result(id);
  if (kept || !is(kept.error(), errc::unknown_task) || !(thread_.in_hand() || again_))
    return kept;
  if (auto c = batch_.changes.find(id); c != nullptr && c->state == task_state::finished)
    return buffered_result(batch_.changes, *c);
  return kept;
}

caf::expected<stored_result> sqlite_journal::kept_result(task_id id) {
  auto& s = select_result_;
  s.bind(1, static_cast<int64_t>(id));
  auto rc = s.step();
  if (rc != SQLITE_ROW) {
    auto err = rc == SQLITE_DONE
                 ? make_error(errc::unknown_task, "no result of task " + std::to_string(id)
                                                    + " is kept: unfinished, never "
                                                      "accepted, or pruned")
                 : db_.fail(rc, "cannot read a result");
    s.reset();
    return err;
  }
  stored_result r;
  r.id = id;
  auto fn = static_cast<size_t>(s.int64(0));
  r.function = fn < names_.functions.size() ? names_.functions[fn] : std::string{};
  r.priority = static_cast<int32_t>(s.int64(2));
  auto node = s.is_null(3) ? size_t{SIZE_MAX} : static_cast<size_t>(s.int64(3));
  r.node = node < names_.nodes.size() ? names_.nodes[node] : std::string{};
  r.how = static_cast<outcome_kind>(s.int64(4));
  r.finished_at = s.int64(7);
  auto [args, args_size] = s.blob(1);
  auto [value, value_size] = s.blob(5);
  auto [error, error_size] = s.blob(6);
  auto result = read_result(args, args_size, std::move(r), value, value_size, error,
                            error_size);
  s.reset();
  return result;
}

// A result not committed yet: its outcome is in `buf`, and so is the task if
// it came in with the same change; else in the commit being written, or in
// the file.
caf::expected<stored_result> sqlite_journal::buffered_result(const change_buffer& buf,
                                                             const task_change& c) {
  stored_result r;
  r.id = c.id;
  r.how = c.how;
  r.node = c.node >= 0 ? names_.nodes[static_cast<size_t>(c.node)] : std::string{};
  r.finished_at = c.finished_at;
  auto value = buf.bytes(c.value);
  auto error = buf.bytes(c.error);
  if (c.is_new) {
    r.function = names_.functions[c.fn];
    r.priority = c.priority;
    return read_result(buf.bytes(c.args), c.args.size, std::move(r), value, c.value.size,
                       error, c.error.size);
  }
  if (auto t = &buf != &batch_.changes && (thread_.in_hand() || again_)
                 ? batch_.changes.find(c.id)
                 : nullptr;
      t != nullptr && t->is_new) {
    r.function = names_.functions[t->fn];
    r.priority = t->priority;
    return read_result(batch_.changes.bytes(t->args), t->args.size, std::move(r), value,
                       c.value.size, error, c.error.size);
  }
  thread_.wait_ended();  // the file is the writer's while it writes
  auto& s = select_task_;
  s.bind(1, static_cast<int64_t>(c.id));
  auto rc = s.step();
  if (rc != SQLITE_ROW) {
    auto err = db_.fail(rc, "cannot read task " + std::to_string(c.id));
    s.reset();
    return err;
  }
  auto fn = static_cast<size_t>(s.int64(0));
  r.function = fn < names_.functions.size() ? names_.functions[fn] : std::string{};
  r.priority = static_cast<int32_t>(s.int64(2));
  auto [args, args_size] = s.blob(1);
  auto result = read_result(args, args_size, std::move(r), value, c.value.size, error,
                            c.error.size);
  s.reset();
  return result;
}

caf::expected<stored_result>
sqlite_journal::read_result(const void* args, size_t args_size, stored_result&& r,
                            const void* value, size_t value_size, const void* error,
                            size_t error_size) {
  auto fail = [&](const char* what, const caf::error& err) {
    auto& ctx = err.context();
    auto text = ctx.size() == 1 && ctx.match_element<std::string>(0)
                  ? ctx.get_as<std::string>(0)
                  : describe(err);
    return make_error(errc::journal_error, "journal " + path() + ": task "
                                             + std::to_string(r.id) + "'s " + what + ": "
                                             + text);
  };
  if (auto err = load_blob(sys_, args, args_size, r.args))
    return fail("arguments", err);
  if (value_size > 0)
    if (auto err = load_blob(sys_, value, value_size, r.value))
      return fail("value", err);
  if (error_size > 0)
    if (auto err = load_blob(sys_, error, error_size, r.error))
      return fail("error", err);
  return std::move(r);
}

} // namespace gasched::detail
