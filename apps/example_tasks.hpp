// The task functions that gasched-node offers out of the box: the examples
// of the README and the functions the tests and benchmarks run.
#pragma once

#include "gasched/registry.hpp"

namespace gasched::examples {

/// Adds every example function to `reg`:
///   hello.world(int32 n) -> n
///   demo.flaky() throws (retried until max_retries)
///   demo.bad() throws permanent_failure
///   test.identity(int32 n) -> n
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
///   events.aggregate(string batch, string partial) -> string: gasched-run's
///     default job (event_tasks.hpp)
void add_to(registry& reg);

} // namespace gasched::examples
