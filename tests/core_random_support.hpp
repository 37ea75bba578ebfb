// What the randomized test of scheduler_core shares: how a difference from
// the model is reported, and each task's function and arguments, which
// follow from its id.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "core/scheduler_core.hpp"
#include "gasched/errc.hpp"

namespace gasched::core_random {

using namespace gasched::detail;

// Random events in one run, before its drain.
inline constexpr int events_per_run = 3000;

// A difference between the core and the model; the run reports it with the
// seed and the event number.
struct mismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Cheap when it holds: the message is built only on failure.
#define EXPECT(cond, ...)                                                        \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::ostringstream os_;                                                    \
      os_ << "expected " #cond ": " << __VA_ARGS__;                              \
      throw mismatch(os_.str());                                                 \
    }                                                                            \
  } while (false)

// A task's function and arguments follow from its id, so the model need not
// store them: one int32 and two scalars are stored inline by the queue, the
// string by reference.
inline std::string function_for(task_id id) {
  return "fn" + std::to_string(id % 4);
}

inline caf::message args_for(task_id id) {
  switch (id % 3) {
    case 0: return caf::make_message(int32_t(id));
    case 1: return caf::make_message(int64_t(id) << 33, -int32_t(id));
    default: return caf::make_message("task " + std::to_string(id));
  }
}

inline bool args_match(task_id id, const caf::message& msg) {
  switch (id % 3) {
    case 0:
      return msg.size() == 1 && msg.match_elements<int32_t>()
             && msg.get_as<int32_t>(0) == int32_t(id);
    case 1:
      return msg.size() == 2 && msg.match_elements<int64_t, int32_t>()
             && msg.get_as<int64_t>(0) == int64_t(id) << 33
             && msg.get_as<int32_t>(1) == -int32_t(id);
    default:
      return msg.size() == 1 && msg.match_elements<std::string>()
             && msg.get_as<std::string>(0) == "task " + std::to_string(id);
  }
}

} // namespace gasched::core_random
