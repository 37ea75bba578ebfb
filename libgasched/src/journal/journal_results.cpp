// durable_journal: the results it keeps, for await across a restart.
#include "journal/durable_journal.hpp"

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

caf::expected<stored_result> durable_journal::result_of(task_id id) {
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

caf::expected<stored_result> durable_journal::kept_result(task_id id) {
  kept_task k;
  if (auto err = store_->read(id, true, k))
    return err;
  stored_result r;
  r.id = id;
  r.function = k.fn < names_.functions.size() ? names_.functions[k.fn] : std::string{};
  r.priority = k.priority;
  auto node = k.node < 0 ? size_t{SIZE_MAX} : static_cast<size_t>(k.node);
  r.node = node < names_.nodes.size() ? names_.nodes[node] : std::string{};
  r.how = k.how;
  r.finished_at = k.finished_at;
  return read_result(k.args.data(), k.args.size(), std::move(r), k.value.data(),
                     k.value.size(), k.error.data(), k.error.size());
}

// A result not committed yet: its outcome is in `buf`, and so is the task if
// it came in with the same change; else in the commit being written, or in
// the file.
caf::expected<stored_result> durable_journal::buffered_result(const change_buffer& buf,
                                                             const task_change& c) {
  stored_result r;
  r.id = c.id;
  r.how = c.how;
  r.node = c.node >= 0 ? names_.nodes[static_cast<size_t>(c.node)] : std::string{};
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
  thread_.wait_ended();  // the store is the writer's while it writes
  kept_task k;
  if (auto err = store_->read(c.id, false, k))
    return err;
  r.function = k.fn < names_.functions.size() ? names_.functions[k.fn] : std::string{};
  r.priority = k.priority;
  return read_result(k.args.data(), k.args.size(), std::move(r), value, c.value.size, error,
                     c.error.size);
}

caf::expected<stored_result>
durable_journal::read_result(const char* args, size_t args_size, stored_result&& r,
                            const char* value, size_t value_size, const char* error,
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
