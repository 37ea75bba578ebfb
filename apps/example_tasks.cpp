#include "example_tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "event_job/event_tasks.hpp"
#include "gasched/this_task.hpp"

namespace gasched::examples {

void add_demo_functions(registry& reg) {
  reg.add("hello.world", [](int32_t n) { return n; });
  reg.add("demo.flaky", []() -> int32_t { throw std::runtime_error("retry me"); });
  reg.add("demo.bad", []() -> int32_t { throw permanent_failure("never retry"); });
}

void add_test_functions(registry& reg) {
  // Returns at once: runs on its task-worker actor, no thread hand-off.
  reg.add("test.identity", [](int32_t n) { return n; }, call_mode::non_blocking);
  reg.add("test.identity_blocking", [](int32_t n) { return n; });
  reg.add("test.sleep", [](int32_t id, int32_t ms) {
    this_task::sleep_for(std::chrono::milliseconds(ms));
    return id;
  });
  reg.add("test.sleep_timed", [](int32_t ms) {
    // How long the sleep really took, in microseconds: the task's busy time.
    auto start = std::chrono::steady_clock::now();
    this_task::sleep_for(std::chrono::milliseconds(ms));
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count());
  });
  reg.add("test.fail", []() -> int32_t { throw std::runtime_error("testing_max_retries"); });
  reg.add("test.permanent",
          []() -> int32_t { throw permanent_failure("testing_permanent_failure"); });
  reg.add("test.kill_if", [](const std::string& node) {
    // As gascheduler's kill_if: let the node fill up before it dies.
    this_task::sleep_for(std::chrono::milliseconds(100));
    if (this_task::node_name() == node)
      std::raise(SIGKILL);
    return true;
  });
  reg.add("test.die", []() -> int32_t {
    std::raise(SIGKILL);  // a poison task: it takes its node down
    return 0;
  });
  reg.add("test.node_name", [] { return this_task::node_name(); });
  reg.add("test.concurrent", [](int32_t ms) {
    // How many tasks this process ran at once while this one started.
    static std::atomic<int32_t> now{0};
    auto seen = ++now;
    this_task::sleep_for(std::chrono::milliseconds(ms));
    --now;
    return seen;
  });
  reg.add("test.record", [](int32_t id, int32_t ms, const std::string& file) {
    // Each start appends "ID" to `file` (one write, O_APPEND: lines from
    // several nodes never mix), then sleeps: how often a task ran.
    auto line = std::to_string(id) + "\n";
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      throw permanent_failure("cannot append to " + file);
    ::close(fd);
    this_task::sleep_for(std::chrono::milliseconds(ms));
    return id;
  });
  reg.add("test.flaky_once", [](int32_t id) {
    if (this_task::attempt() == 1)
      throw std::runtime_error("first attempt fails");
    return id;
  });
}

void add_to(registry& reg, std::shared_ptr<const data_dir> data) {
  add_demo_functions(reg);
  add_test_functions(reg);
  add_event_tasks(reg, std::move(data));
}

} // namespace gasched::examples
