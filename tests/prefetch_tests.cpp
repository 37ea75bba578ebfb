// The adaptive prefetch (the default) with in-process nodes: what nodes hold
// stays bounded, and held tasks never wait behind a long task while another
// node has a free slot; every task still has exactly one result.
#include "actor_support.hpp"

#include <chrono>
#include <map>

using namespace gasched;
using namespace gasched::testing;
using namespace std::chrono_literals;

namespace {

void add_functions(registry& reg) {
  reg.add("p.id", [](int32_t n) { return n; });
  reg.add("p.sleep", [](int32_t id, int32_t ms) {
    this_task::sleep_for(std::chrono::milliseconds(ms));
    return id;
  });
}

} // namespace

TEST_CASE("adaptive prefetch: nodes hold more than their slots but never beyond 1 + 16 per "
          "slot",
          "[prefetch]") {
  cluster c;
  add_functions(c.reg());
  auto opts = c.options({c.node("a", 2), c.node("b", 3)});
  opts.prefetch = adaptive_prefetch;  // the default, which options() turns off
  auto sched = c.scheduler(opts);
  REQUIRE(c.get_stats(sched).prefetch == adaptive_prefetch);
  constexpr int32_t n = 20000;
  std::vector<task> ts;
  for (int32_t i = 0; i < n; ++i)
    ts.push_back(make_task("p.id", caf::make_message(i)));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(ts)));
  std::map<std::string, uint32_t> peak;  // held at once, by node
  std::map<std::string, uint32_t> slots;
  std::map<int32_t, int> seen;
  for (int32_t got = 0; got < n; got += 500) {
    for (auto& r : c.results(500))
      ++seen[r.value.get_as<int32_t>(0)];
    auto s = c.get_stats(sched);
    for (auto& w : s.worker_nodes) {
      CHECK(w.running <= w.slots * (1 + 16));
      peak[w.node] = std::max(peak[w.node], w.running);
      slots[w.node] = w.slots;
    }
  }
  CHECK(seen.size() == size_t{n});
  REQUIRE(slots == std::map<std::string, uint32_t>{{"a", 2}, {"b", 3}});
  for (auto& [node, held] : peak) {
    INFO("node " << node << " held at most " << held << " with " << slots[node] << " slots");
    CHECK(held > slots[node]);  // prefetched: more than it runs
  }
  CHECK(c.no_more_results(sched));
}

TEST_CASE("adaptive prefetch: short tasks held behind one that turns out long move to the "
          "free node, with exactly one result each",
          "[prefetch]") {
  cluster c;
  add_functions(c.reg());
  auto opts = c.options({c.node("a", 1), c.node("b", 1)});
  opts.prefetch = adaptive_prefetch;  // the default, which options() turns off
  auto sched = c.scheduler(opts);
  // p.sleep is known as short: nodes hold it.
  std::vector<task> warm;
  for (int32_t i = 0; i < 300; ++i)
    warm.push_back(make_task("p.sleep", caf::make_message(i, int32_t{0})));
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(warm)));
  c.results(300);
  // One that turns out long, then short ones: some are held behind it.
  constexpr int32_t shorts = 40;
  std::vector<task> ts{make_task("p.sleep", caf::make_message(int32_t{-1}, int32_t{3000}))};
  for (int32_t i = 0; i < shorts; ++i)
    ts.push_back(make_task("p.sleep", caf::make_message(i, int32_t{0})));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(c.ask<std::vector<task_id>>(sched, execute_atom::value, std::move(ts)));
  std::map<int32_t, int> count;
  for (auto& r : c.results(shorts))
    ++count[r.value.get_as<int32_t>(0)];
  auto shorts_took = std::chrono::steady_clock::now() - t0;
  CHECK(count.count(-1) == 0);  // every short one finished before the long one
  CHECK(count.size() == size_t{shorts});
  for (auto& [id, times] : count)
    CHECK(times == 1);
  CHECK(shorts_took < 2s);
  auto last = c.results(1, 10s);
  CHECK(last[0].value.get_as<int32_t>(0) == -1);
  auto s = c.get_stats(sched);
  CHECK(s.succeeded == 300 + shorts + 1);
  CHECK(c.no_more_results(sched));
  CHECK(s.running == 0);
}
