// Adaptive prefetch: how many tasks a node holds beyond its slots, from the
// round trips it has shown, and what moves when a node stalls.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

namespace {

// A core with adaptive prefetch on the fake clock, and one node of `slots`.
struct adaptive_core {
  scheduler_core core{limits()};
  node_index a;

  explicit adaptive_core(uint32_t slots) {
    core.set_clock(fake_clock);
    fake_now_us = 5000;
    a = core.add_node(slots);
  }

  // Functions 0 and 1 run once each, dispatched together: 0 ends after
  // `end0` us having run `run0`, 1 after `end1` more having run `run1`.
  void observe(uint64_t end0, uint32_t run0, uint64_t end1, uint32_t run1) {
    auto first = dispatch_all(core);
    REQUIRE(first.size() == 2);
    fake_now_us += end0;
    REQUIRE(core.complete(first[0].id, first[0].epoch, no_node, {}, {}, run_timing{run0, 0}));
    fake_now_us += end1;
    REQUIRE(core.complete(first[1].id, first[1].epoch, no_node, {}, {}, run_timing{run1, 0}));
  }

  static core_limits limits() {
    core_limits lim;
    lim.prefetch = adaptive_prefetch;
    return lim;
  }
};

} // namespace

TEST_CASE("adaptive prefetch: nothing held before results, then what covers a round trip, "
          "and a stalled node's newest held tasks move to a free slot",
          "[core][prefetch]") {
  core_limits lim;
  lim.prefetch = adaptive_prefetch;
  scheduler_core core{lim};
  REQUIRE(core.adaptive());
  core.set_clock(fake_clock);
  fake_now_us = 1000;
  auto a = core.add_node(2);
  auto b = core.add_node(2);
  for (int i = 0; i < 6; ++i)
    REQUIRE(core.enqueue("f", caf::make_message(i), 0));
  auto first = dispatch_all(core);
  REQUIRE(first.size() == 4);  // unknown run time: only the slots
  CHECK(core.hold_limit(a, 0) == 2);
  // Round trip 100 us, of which 10 us in the function: rtt 90, run 10.
  fake_now_us += 100;
  for (auto& s : first)
    REQUIRE(core.complete(s.id, s.epoch, no_node, {}, {}, run_timing{10, 0}));
  CHECK(core.run_estimate(0) == Approx(10));
  CHECK(core.round_trip(a) == Approx(90));
  // 2 slots x 90 / 10 = 18 finish in a round trip; with room for chance
  // (18 + 2 x sqrt(18), rounded up) 27 are held beyond the 2 running, at
  // most 16 per slot.
  CHECK(core.hold_limit(a, 0) == 29);
  for (int i = 0; i < 56; ++i)
    REQUIRE(core.enqueue("f", caf::make_message(i), 0));
  auto held = dispatch_all(core);
  REQUIRE(held.size() == 58);
  CHECK(core.nodes().running(a) == 29);
  CHECK(core.nodes().running(b) == 29);
  CHECK(core.reclaim().moved.empty());  // no free slot anywhere
  // b finishes everything; a has said nothing for a second: it is stalled.
  fake_now_us += 1'000'000;
  std::vector<sent> on_a;
  for (auto& s : held)
    if (s.node == b)
      REQUIRE(core.complete(s.id, s.epoch, no_node, {}, {}, run_timing{10, 0}));
    else
      on_a.push_back(s);
  CHECK(core.hold_limit(a, 0) == 2);  // a stalled node takes nothing more
  auto r = core.reclaim();
  REQUIRE(r.moved.size() == 2);  // as many as b has free slots
  CHECK(r.moved[0].id == on_a.back().id);  // newest first
  CHECK(r.moved[1].id == on_a[on_a.size() - 2].id);
  CHECK(core.reclaimed() == 2);
  auto again = dispatch_all(core);
  REQUIRE(again.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(again[i].node == b);
    CHECK(again[i].epoch == r.moved[0].epoch + 1);
  }
  // The old lease's result is late; the new one counts, once.
  auto late = core.count().late_results;
  CHECK_FALSE(core.complete(r.moved[0].id, r.moved[0].epoch, true));
  CHECK(core.count().late_results == late + 1);
  CHECK(core.complete(again[0].id, again[0].epoch, true));
  CHECK_FALSE(core.complete(again[0].id, again[0].epoch, true));
}

TEST_CASE("adaptive prefetch: nothing is held for tasks longer than 50 round trips, "
          "nor behind them",
          "[core][prefetch]") {
  adaptive_core ac{4};
  auto& core = ac.core;
  auto a = ac.a;
  REQUIRE(core.enqueue("short", caf::make_message(1), 0));  // function 0
  REQUIRE(core.enqueue("long", caf::make_message(1), 0));   // function 1
  ac.observe(100, 0, 99'900, 99'900);
  // rtt about 100 us; 99,900 > 50 x 100: long. The short one: 16 per slot.
  CHECK(core.hold_limit(a, 1) == 4);
  CHECK(core.hold_limit(a, 0) == 4 + 64);
  for (int i = 0; i < 4; ++i)
    REQUIRE(core.enqueue("long", caf::make_message(i), 0));
  REQUIRE(dispatch_all(core).size() == 4);
  CHECK(core.hold_limit(a, 0) == 4);  // every slot runs a long task
}

TEST_CASE("adaptive prefetch: tasks a few round trips long are held too, so no slot waits a "
          "round trip between them",
          "[core][prefetch]") {
  adaptive_core ac{4};
  auto& core = ac.core;
  auto a = ac.a;
  REQUIRE(core.enqueue("few", caf::make_message(1), 0));
  REQUIRE(core.enqueue("many", caf::make_message(1), 0));
  ac.observe(1'100, 1'000, 4'900, 5'900);
  CHECK(core.round_trip(a) == Approx(100).epsilon(0.01));
  // 4 slots x 100 / 1,000 = 0.4 tasks finish per round trip, but two may:
  // 0.4 + 2 x sqrt(0.4) = 1.66, so two are held.
  CHECK(core.hold_limit(a, 0) == 4 + 2);
  // 5,900 > 50 x 100: long, none held.
  CHECK(core.hold_limit(a, 1) == 4);
}
