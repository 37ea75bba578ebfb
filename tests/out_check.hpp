// What the tests of gasched-run --connect ... --out FILE check in FILE: one
// result per line of the task file, and its growth while the client runs.
#pragma once

#include <set>

#include <nlohmann/json.hpp>

#include "run_support.hpp"

namespace gasched::run_test {

// --out's file holds one result for each of the lines 1..n, its value its
// line's number.
inline void check_each_line_once(const std::string& out, int n) {
  std::multiset<int> values;
  std::ifstream in{out};
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    INFO(line);
    REQUIRE(j.contains("value"));
    values.insert(j["value"].get<int>());
  }
  CHECK(values.size() == static_cast<size_t>(n));
  std::set<int> distinct(values.begin(), values.end());
  CHECK(distinct.size() == static_cast<size_t>(n));
  REQUIRE(!distinct.empty());
  CHECK(*distinct.begin() == 1);
  CHECK(*distinct.rbegin() == n);
}

// Waits until `out` has `lines` lines (bounded).
inline void await_lines(const std::string& out, size_t lines, const run_process& client) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (line_count(out) < lines) {
    if (std::chrono::steady_clock::now() >= deadline)
      FAIL("the client wrote " << line_count(out) << " of " << lines
                               << " results in 60 s; its stderr:\n" << client.err());
    std::this_thread::sleep_for(10ms);  // the file grows as results come: nothing to block on
  }
}

} // namespace gasched::run_test
