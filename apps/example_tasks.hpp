// The example task functions: the harmless ones the stock gasched-node
// offers, and the test functions that only gasched-test-node offers (one
// kills its own process, others hold a slot for as long as they are asked).
#pragma once

#include <memory>

#include "data_dir.hpp"
#include "gasched/registry.hpp"

namespace gasched::examples {

/// The README's examples, safe to offer to any scheduler:
///   hello.world(int32 n) -> n
///   demo.flaky() throws (retried until max_retries)
///   demo.bad() throws permanent_failure
void add_demo_functions(registry& reg);

/// What the tests and benchmarks run; never offer them on a shared cluster:
///   test.identity(int32 n) -> n (registered non-blocking)
///   test.identity_blocking(int32 n) -> n (registered blocking, the default)
///   test.sleep(int32 id, int32 ms) -> id, after ms milliseconds (wakes on cancel)
///   test.sleep_timed(int32 ms) -> int64 microseconds it really slept
///   test.fail() throws, every time
///   test.permanent() throws permanent_failure
///   test.kill_if(string node) -> true; kills its own process (SIGKILL) when
///     it runs on the node of that name
///   test.die() kills its own process (SIGKILL): a poison task
///   test.node_name() -> the name of the node running it
///   test.concurrent(int32 ms) -> how many tasks this process ran at once
///     when it started; it then sleeps ms
///   test.flaky_once(int32 id) -> id; fails the first attempt on each node
///   test.record(int32 id, int32 ms, string file) -> id; appends a line "ID"
///     to file as it starts (how often a task ran), then sleeps ms
void add_test_functions(registry& reg);

/// Every example: the demo and test functions, and events.aggregate
/// (event_tasks.hpp) confined to `data` (none: it refuses every task).
void add_to(registry& reg, std::shared_ptr<const data_dir> data = nullptr);

} // namespace gasched::examples
