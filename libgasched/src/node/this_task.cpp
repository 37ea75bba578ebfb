// gasched::this_task: what a task function may ask about itself.
#include "gasched/this_task.hpp"

#include <thread>

#include "node/task_context.hpp"
#include "node/task_pool.hpp"

namespace gasched::detail {

thread_local task_context current_task;

} // namespace gasched::detail

namespace gasched::this_task {

using detail::current_task;

bool cancelled() noexcept {
  return current_task.cancelled != nullptr && current_task.cancelled->load();
}

bool sleep_for(caf::timespan d) {
  if (current_task.pool == nullptr) {
    std::this_thread::sleep_for(d);
    return true;
  }
  return current_task.pool->sleep_for(*current_task.cancelled, d);
}

task_id id() noexcept {
  return current_task.id;
}

uint32_t attempt() noexcept {
  return current_task.attempt;
}

const std::string& node_name() noexcept {
  static const std::string none;
  return current_task.pool != nullptr ? current_task.pool->node_name() : none;
}

} // namespace gasched::this_task
