// Error codes of gasched; they travel inside caf::error with category "gasched".
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace gasched {

enum class errc : uint8_t {
  /// The task failed on every one of its max_retries attempts (context: last exception text).
  max_retries = 1,
  /// The task threw gasched::permanent_failure (context: its text); never retried.
  permanent_failure,
  /// No function of that name is registered on the node that got the task.
  unknown_function,
  /// The arguments do not match the registered function's parameter types.
  bad_arguments,
  /// `stop` found tasks still pending or running (context: their counts).
  not_empty,
  /// `add_node` got no answer from the node within node_timeout.
  node_not_found,
  /// spawn_scheduler was handed nodes and none of them answered.
  no_nodes_in_cluster,
  /// The task was cancelled before it finished.
  cancelled,
  /// `execute` found max_pending tasks already waiting; nothing was accepted.
  queue_full,
  /// Nodes died while running this task max_node_failures times: it is quarantined.
  node_failures,
  /// No pending or running task has this id (never submitted, or already finished).
  unknown_task,
  /// Another scheduler in this actor system already has this name.
  name_in_use,
  /// A request or option is malformed (context says which).
  invalid_argument,
  /// A network operation failed: port in use, address unreachable (context says which).
  network_error,
  /// TLS is misconfigured: a file missing or unreadable, a key that does not
  /// match its certificate, an expired certificate (context: which file, what).
  tls_error,
  /// The sender may not do this: a remote peer asked for an operation that
  /// belongs to the scheduler's own process or client, or for another
  /// client's task, or a node got orders from a scheduler it does not serve.
  not_allowed,
  /// The scheduler's journal cannot be opened, read or written: not a gasched
  /// journal, corrupt, of a newer format, in use by another scheduler, disk
  /// full, read-only (context: the file and what went wrong).
  journal_error,
  /// The scheduler is a standby on a shared journal (or stepped down from
  /// being the active one): it takes no work. Context: a sentence naming it,
  /// then the active scheduler's address "HOST:PORT" (empty when none is
  /// known), which nodes and clients that follow the active go to.
  standby,
};

/// The category under which gasched's codes travel in a caf::error.
constexpr caf::atom_value error_category = caf::atom("gasched");

/// The code's name, e.g. "max_retries".
const char* to_string(errc x) noexcept;

inline caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), error_category};
}

/// An error with a human-readable explanation as its context.
inline caf::error make_error(errc x, std::string what) {
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::move(what))};
}

/// True when `e` carries code `x` of gasched's category (its context ignored).
inline bool is(const caf::error& e, errc x) noexcept {
  return e.category() == error_category && e.code() == static_cast<uint8_t>(x);
}

/// "gasched::max_retries: <context>" for gasched's errors; CAF's rendering otherwise.
std::string describe(const caf::error& e);

} // namespace gasched
