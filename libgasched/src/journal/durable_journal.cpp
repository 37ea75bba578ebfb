#include "journal/durable_journal.hpp"

#include <algorithm>

#include "gasched/errc.hpp"
#include "journal/blob.hpp"
#include "journal/pg_store.hpp"
#include "journal/sqlite_store.hpp"

namespace gasched::detail {

namespace {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The text of one of our errors without the "gasched::journal_error: " prefix.
std::string text_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return describe(err);
}

} // namespace

durable_journal::durable_journal(caf::actor_system& sys, journal_options opts)
  : sys_(sys), opts_(opts) {
}

durable_journal::~durable_journal() = default;

caf::expected<std::unique_ptr<durable_journal>>
durable_journal::open(caf::actor_system& sys, const std::string& path, journal_options opts) {
  if (is_pg_url(path)) {
    auto store = pg_store::open(path, opts.cluster, opts);
    if (!store)
      return std::move(store.error());
    return open(sys, std::move(*store), opts);
  }
  auto store = sqlite_store::open(path, opts);
  if (!store)
    return std::move(store.error());
  return open(sys, std::move(*store), opts);
}

caf::expected<std::unique_ptr<durable_journal>>
durable_journal::open(caf::actor_system& sys, std::unique_ptr<journal_store> store,
                      journal_options opts) {
  std::unique_ptr<durable_journal> j{new durable_journal(sys, opts)};
  j->store_ = std::move(store);
  if (auto err = j->store_->resume(sys, j->meta_, j->names_, j->notes_, j->snapshot_))
    return err;
  auto& names = j->names_;
  for (uint32_t i = 0; i < names.functions.size(); ++i)
    j->function_numbers_.emplace(names.functions[i], i);
  for (int64_t i = 0; i < static_cast<int64_t>(names.nodes.size()); ++i)
    j->node_numbers_.emplace(names.nodes[i], i);
  j->functions_written_ = names.functions.size();
  j->nodes_written_ = names.nodes.size();
  j->durable_id_ = j->meta_.next_id - 1;
  return j;
}

journal_snapshot durable_journal::take_snapshot() {
  return std::exchange(snapshot_, journal_snapshot{});
}

std::vector<std::pair<task_id, caf::error>> durable_journal::take_refused() {
  return std::exchange(refused_, {});
}

void durable_journal::name_node(node_index n, const std::string& name) {
  if (n >= core_node_names_.size()) {
    core_node_names_.resize(n + 1);
    core_node_numbers_.resize(n + 1, unnumbered);
  }
  core_node_names_[n] = name;
  core_node_numbers_[n] = unnumbered;
}

uint32_t durable_journal::function_number(const std::string& name) {
  // A batch is mostly one function: the last one is compared before hashing.
  if (last_function_ != nullptr && *last_function_ == name)
    return last_fn_;
  auto [it, added] = function_numbers_.emplace(name, names_.functions.size());
  if (added)
    names_.functions.push_back(name);
  last_function_ = &it->first;  // node-based map: stays valid
  last_fn_ = it->second;
  return it->second;
}

int64_t durable_journal::node_number(node_index n) {
  if (n >= core_node_names_.size() || core_node_names_[n].empty())
    return -1;
  // Numbered once per core node, not hashed per dispatched or finished task.
  if (auto known = core_node_numbers_[n]; known != unnumbered)
    return known;
  auto& name = core_node_names_[n];
  auto [it, added] = node_numbers_.emplace(name, static_cast<int64_t>(names_.nodes.size()));
  if (added)
    names_.nodes.push_back(name);
  return core_node_numbers_[n] = it->second;
}

namespace {

// A message or an error serialized onto the end of `arena`: where it is, or
// nothing when it does not serialize.
template <class T>
arena_ref keep_blob(caf::actor_system& sys, std::vector<char>& arena, const T& x) {
  auto at = arena.size();
  if (append_blob(sys, x, arena))
    return {};
  return {at, arena.size() - at};
}

} // namespace

arena_ref durable_journal::keep(const caf::message& x) {
  return keep_blob(sys_, buffer_.arena(), x);
}

arena_ref durable_journal::keep(const caf::error& x) {
  return keep_blob(sys_, buffer_.arena(), x);
}

arena_ref durable_journal::keep(const std::string& x) {
  auto& arena = buffer_.arena();
  auto at = arena.size();
  arena.insert(arena.end(), x.begin(), x.end());
  return {at, x.size()};
}

// -- journal ---------------------------------------------------------------------

void durable_journal::enqueued(task_id id, const std::string& function,
                              const caf::message& args, int32_t priority) {
  meta_.next_id = std::max(meta_.next_id, id + 1);
  auto& arena = buffer_.arena();
  auto at = arena.size();
  if (auto err = append_blob(sys_, args, arena)) {
    refused_.emplace_back(id, make_error(errc::journal_error,
                                         "journal " + path() + ": task " + std::to_string(id)
                                           + " cannot be kept: " + text_of(err)));
    refused_ids_.insert(id);
    return;
  }
  auto& c = buffer_.add(id);
  c.args = {at, arena.size() - at};
  args_bytes_ = c.args.size;
  c.fn = function_number(function);
  c.priority = priority;
  c.seq = static_cast<int64_t>(id);
}

// Where and under which lease: a scheduler that resumes the journal adopts
// the task only from that node, under that lease (scheduler_core::adopt).
void durable_journal::dispatched(task_id id, uint32_t epoch, node_index node) {
  if (!refused_ids_.empty() && refused_ids_.count(id) > 0)
    return;
  auto& c = buffer_.touch(id);
  c.state = task_state::running;
  c.node = node_number(node);
  c.epoch = epoch;
}

void durable_journal::requeued(task_id id, uint32_t node_failures) {
  ++meta_.count.ticks;
  ++meta_.count.requeued;
  if (!refused_ids_.empty() && refused_ids_.count(id) > 0)
    return;
  auto& c = buffer_.touch(id);
  c.state = task_state::pending;
  c.requeued = true;
  c.seq = meta_.front_seq--;
  c.node_failures = node_failures;
  c.node = -1;  // its node is gone: no claim on it counts
  c.epoch = 0;
}

void durable_journal::finished(task_id id, outcome_kind how, node_index node,
                              const caf::message& value, const caf::error& error) {
  auto& count = meta_.count;
  switch (how) {
    case outcome_kind::succeeded: ++count.succeeded; break;
    case outcome_kind::failed: ++count.failed; break;
    case outcome_kind::cancelled: ++count.cancelled; break;
    case outcome_kind::quarantined: ++count.quarantined; break;
  }
  if (node != no_node)
    ++count.ticks;
  if (!refused_ids_.empty() && refused_ids_.erase(id) > 0)
    return;
  auto& c = buffer_.touch(id);
  c.state = task_state::finished;
  c.how = how;
  c.node = node_number(node);
  auto err = error;
  if (how == outcome_kind::succeeded) {
    c.value = keep(value);
    if (c.value.size == 0)
      err = make_error(errc::journal_error, "the task succeeded, but its value's types "
                                            "could not be serialized");
  }
  if (err) {
    c.error = keep(err);
    c.error_text = keep(describe(err));
  }
}

// -- commit ----------------------------------------------------------------------

int64_t durable_journal::prune_before() {
  auto now = std::chrono::steady_clock::now();
  if (!prune_more_ && now - last_prune_ < opts_.prune_interval)
    return 0;
  auto keep_ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts_.keep_results);
  return std::max<int64_t>(now_ms() - keep_ms.count(), 1);
}

void durable_journal::on_written(std::function<void()> wake) {
  thread_.on_done(std::move(wake));
}

durable_journal::started durable_journal::start_commit() {
  if (thread_.in_hand())
    return started::nothing;
  auto how = again_ ? started::again : started::fresh;
  if (!again_) {
    auto before = prune_before();
    if (buffer_.empty() && notes_changed_.empty() && before == 0)
      return started::nothing;
    batch_.clear();
    std::swap(batch_.changes, buffer_);  // the old batch's capacity is reused
    auto& fns = names_.functions;
    batch_.functions.assign(fns.begin() + static_cast<ptrdiff_t>(functions_written_), fns.end());
    batch_.first_function = functions_written_;
    functions_written_ = fns.size();
    auto& nodes = names_.nodes;
    batch_.nodes.assign(nodes.begin() + static_cast<ptrdiff_t>(nodes_written_), nodes.end());
    batch_.first_node = nodes_written_;
    nodes_written_ = nodes.size();
    batch_.notes = std::exchange(notes_changed_, {});
    batch_.meta = meta_;
    batch_.prune_before = before;
    batch_.durable_id = meta_.next_id - 1;
    batch_.finished_at = now_ms();
    last_start_ = std::chrono::steady_clock::now();
    last_size_ = batch_.changes.changes().size();
  }
  again_ = false;
  thread_.start([this] {
    size_t pruned = 0;
    auto err = store_->write(batch_, pruned);
    if (!err && batch_.prune_before != 0)
      prune_more_ = pruned >= static_cast<size_t>(journal_store::prune_limit);
    return err;
  });
  return how;
}

std::optional<caf::error> durable_journal::finish_commit() {
  auto outcome = thread_.poll();
  if (!outcome)
    return outcome;
  if (*outcome) {
    again_ = true;
    return outcome;
  }
  durable_id_ = std::max(durable_id_, batch_.durable_id);
  if (batch_.prune_before != 0)
    last_prune_ = std::chrono::steady_clock::now();
  batch_.prune_before = 0;
  return outcome;
}

caf::error durable_journal::commit() {
  // The commit in hand, one written again, then the rest.
  for (int round = 0; round < 3; ++round) {
    if (!thread_.in_hand() && start_commit() == started::nothing)
      return caf::none;
    thread_.wait_ended();
    if (auto err = *finish_commit())
      return err;
  }
  return caf::none;
}

void durable_journal::set_note(std::string key, std::string value) {
  notes_[key] = value;
  notes_changed_.emplace_back(std::move(key), std::move(value));
}

std::string durable_journal::note(const std::string& key) const {
  auto it = notes_.find(key);
  return it == notes_.end() ? std::string{} : it->second;
}

} // namespace gasched::detail
