// What a C++ fragment of README.md or docs/ may use: the public headers, the standard
// library's usual headers, and the parameters of the function it is compiled in:
//   caf::actor_system& sys, caf::scoped_actor& self, gasched::scheduler_actor sched,
//   gasched::registry& reg, const gasched::task_result& r
#pragma once

#include <gasched/gasched.hpp>
#include <gasched/http.hpp>
#include <gasched/run_node.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

// Marks the parameters used, so that a fragment that needs none compiles warning-free.
template <class... Ts>
void use(const Ts&...) {}
