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

// gasched-core-scale-bench's figures: the core from 2 to 10,000 nodes of 8
// slots with 10,000,000 pending (100,000 with --quick), one run of each.
std::vector<figure> core_scale(const options& opts) {
  auto program = opts.core_bench.substr(0, opts.core_bench.rfind('/') + 1)
                 + "gasched-core-scale-bench";
  auto args = std::string{" --json"} + (opts.quick ? " --pending 100000" : "");
  auto cmd = program + args;
  auto json = nlohmann::json::parse(run_command(cmd), nullptr, false);
  if (json.is_discarded() || !json.is_array())
    throw std::runtime_error("gasched-core-scale-bench gave no JSON: " + cmd);
  std::vector<figure> result;
  for (auto& row : json) {
    auto at = " at " + std::to_string(row["nodes"].get<int>()) + " nodes";
    auto add = [&](const char* key, const std::string& name, const char* unit, double scale) {
      // The program by its name: the note goes into the docs, the path is this machine's.
      result.push_back(figure{"core", name + at, unit, {row[key].get<double>() * scale}, "",
                              "gasched-core-scale-bench" + args + ", one run"});
    };
    add("enqueue_ns", "scale: enqueue", "ns per task", 1);
    add("dispatch_ns", "scale: dispatch", "ns per task", 1);
    add("complete_ns", "scale: complete", "ns per task", 1);
    add("cycle_ns", "scale: result and refill", "ns per task", 1);
    add("pending_bytes", "scale: memory", "bytes per pending task", 1);
    add("rss_peak", "scale: peak memory", "MB", 1e-6);
    add("death_ms_max", "scale: a node's death (max of 20)", "ms", 1);
  }
  return result;
}

} // namespace

void core(context& c) {
  for (auto& f : core_micro(c.opts))
    c.add(f);
  for (auto& f : core_scale(c.opts))
    c.add(f);
}

} // namespace gasched::bench
