// Internal: one task in a node's hands, shared by the node actor (its queue
// and supervision), the task-worker actor that runs it and, for a blocking
// function, the worker's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/message.hpp>

#include "gasched/registry.hpp"
#include "wire.hpp"

namespace gasched::detail {

struct task_job {
  scheduler_for_nodes scheduler;  // where its outcome goes
  task_id id = 0;
  uint32_t epoch = 0;
  std::string function;
  const registry::function* fn = nullptr;
  caf::message args;
  std::shared_ptr<const retry_policy> policy;
  std::chrono::steady_clock::time_point received{};  // queued (wait_us)
  std::chrono::steady_clock::time_point started{};   // first attempt (run_us)
  // Attempts started: written by its worker, read by the node once that
  // worker died (a death counts as a failed attempt).
  std::atomic<uint32_t> attempt{0};
  // Set by the node (cancel, stop) or by a dying worker; a thread sleeping
  // in this_task::sleep_for wakes on `wake`.
  std::atomic<bool> cancelled{false};
  std::mutex mtx;
  std::condition_variable wake;

  void cancel() {
    std::lock_guard<std::mutex> guard{mtx};
    cancelled = true;
    wake.notify_all();
  }

  /// Sleeps `d` unless cancelled; false if cancelled.
  bool sleep_for(caf::timespan d) {
    std::unique_lock<std::mutex> guard{mtx};
    return !wake.wait_for(guard, d, [this] { return cancelled.load(); });
  }
};

using job_ptr = std::shared_ptr<task_job>;

/// What one call of a task function gave.
struct attempt_result {
  enum kind_t : uint8_t { ok, failed, permanent } kind = ok;
  caf::message value;
  std::string what;  // the exception's text unless ok
};

} // namespace gasched::detail

// Local messages between a node, its workers and their threads only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gasched::detail::job_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gasched::detail::attempt_result)
