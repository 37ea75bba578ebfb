// gasched::this_task: what a task function may ask about itself.
#include "gasched/this_task.hpp"

#include <thread>

#include "node/task_context.hpp"
#include "node/task_job.hpp"

namespace gasched::detail {

thread_local task_context current_task;

} // namespace gasched::detail

namespace gasched::this_task {

using detail::current_task;

bool cancelled() noexcept {
  return current_task.job != nullptr && current_task.job->cancelled.load();
}

bool sleep_for(caf::timespan d) {
  if (current_task.job == nullptr) {
    std::this_thread::sleep_for(d);
    return true;
  }
  return current_task.job->sleep_for(d);
}

task_id id() noexcept {
  return current_task.job != nullptr ? current_task.job->id : 0;
}

uint32_t attempt() noexcept {
  return current_task.attempt;
}

const std::string& node_name() noexcept {
  static const std::string none;
  return current_task.node_name != nullptr ? *current_task.node_name : none;
}

caf::actor worker() {
  return current_task.worker != nullptr ? *current_task.worker : caf::actor{};
}

} // namespace gasched::this_task
