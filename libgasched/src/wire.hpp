// The messages between schedulers and nodes. Results travel back in batches
// and dispatches go out in batches: CAF carries about 200k messages a second
// over one connection, far fewer than the tasks a cluster can finish.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "gasched/task.hpp"

namespace gasched::detail {

/// A node introduces itself: how it is called and how many tasks it runs at once.
struct node_info {
  std::string name;
  uint32_t slots = 0;  // 0: as many as the scheduler's max_workers
};

/// How a node retries a failing task (scheduler_options' retry settings).
struct retry_policy {
  uint32_t max_retries = 10;
  caf::timespan retry_timeout{0};
  double backoff = 1.0;
  caf::timespan backoff_max{0};
  bool jitter = false;
};

/// Run function(args) under lease (id, epoch).
struct run_order {
  task_id id = 0;
  uint32_t epoch = 0;
  std::string function;
  caf::message args;
};

struct run_batch {
  retry_policy policy;
  uint32_t capacity = 0;  // how many of this scheduler's tasks the node may run at once
  std::vector<run_order> orders;
};

/// How the run under lease (id, epoch) ended: a value, or an error.
/// run_us and wait_us (UINT32_MAX: not measured) feed the adaptive prefetch:
/// time in the function, retries included, and held before a thread took it.
struct run_outcome {
  task_id id = 0;
  uint32_t epoch = 0;
  caf::message value;
  caf::error error;
  uint32_t run_us = UINT32_MAX;
  uint32_t wait_us = UINT32_MAX;
};

struct done_batch {
  std::vector<run_outcome> outcomes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("gasched::node_info"), x.name, x.slots);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_policy& x) {
  return f(caf::meta::type_name("gasched::retry_policy"), x.max_retries,
           x.retry_timeout, x.backoff, x.backoff_max, x.jitter);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_order& x) {
  return f(caf::meta::type_name("gasched::run_order"), x.id, x.epoch, x.function,
           x.args);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_batch& x) {
  return f(caf::meta::type_name("gasched::run_batch"), x.policy, x.capacity, x.orders);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("gasched::run_outcome"), x.id, x.epoch, x.value,
           x.error, x.run_us, x.wait_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, done_batch& x) {
  return f(caf::meta::type_name("gasched::done_batch"), x.outcomes);
}

} // namespace gasched::detail
