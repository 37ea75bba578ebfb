// gasched-core-bench's figures.
#include "scenarios.hpp"

#include <nlohmann/json.hpp>

namespace gasched::bench {

namespace {

// gasched-core-bench's figures: ns per operation.
std::vector<figure> core_micro(const options& opts) {
  auto cmd = opts.core_bench + " --benchmark_format=json --benchmark_min_time="
             + (opts.quick ? "0.01" : "0.3") + " 2>/dev/null";
  auto out = run_command(cmd);
  std::vector<figure> result;
  auto json = nlohmann::json::parse(out, nullptr, false);
  if (json.is_discarded() || !json.contains("benchmarks"))
    throw std::runtime_error("gasched-core-bench gave no JSON: " + cmd);
  for (auto& b : json["benchmarks"]) {
    // Per task where the benchmark counts tasks, else per iteration.
    auto ns = b.contains("items_per_second") ? 1e9 / b["items_per_second"].get<double>()
                                              : b["real_time"].get<double>();
    auto unit = b.contains("items_per_second") ? "ns per task" : "ns";
    result.push_back(figure{"core", b["name"].get<std::string>(), unit, {ns}, "",
                            "Google Benchmark, one run"});
  }
  return result;
}

} // namespace

void core(context& c) {
  for (auto& f : core_micro(c.opts))
    c.add(f);
}

} // namespace gasched::bench
