// The core's timing of tasks (queue wait, run time, end to end) on a clock
// the tests set, and the histogram that holds them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/make_message.hpp>

#include "core_support.hpp"
#include "gasched/stats.hpp"

using namespace gasched;
using namespace gasched::core_test;

namespace {

std::vector<sent> dispatch_at(scheduler_core& core, uint64_t at) {
  fake_now_us = at;
  return dispatch_all(core);
}

core_limits one_slot() {
  core_limits lim;
  lim.max_workers = 1;
  return lim;
}

task_id enqueue_at(scheduler_core& core, uint64_t at) {
  fake_now_us = at;
  auto id = core.enqueue("f", caf::make_message(int32_t{1}), 0);
  REQUIRE(id);
  return *id;
}

} // namespace

TEST_CASE("duration_histogram: a bound holds what equals it as Prometheus' le",
          "[core][timing]") {
  duration_histogram h;
  CHECK(h.count() == 0);
  for (uint64_t us : {0ull, 100ull, 101ull, 1'000'000ull, 3'600'000'000ull, 3'600'000'001ull})
    h.observe(us);
  auto last = duration_histogram::bounds_us.size();
  CHECK(h.buckets[0] == 2);              // 0 and 100 us
  CHECK(h.buckets[1] == 1);              // 101 us: up to 500
  CHECK(h.buckets[8] == 1);              // 1 s
  CHECK(h.buckets[last - 1] == 1);       // an hour
  CHECK(h.buckets[last] == 1);           // beyond: +Inf
  CHECK(h.count() == 6);
  CHECK(h.sum_us == 7'201'000'202ull);
  CHECK(std::is_sorted(duration_histogram::bounds_us.begin(),
                       duration_histogram::bounds_us.end()));
}

TEST_CASE("scheduler_core: a result times queue wait run time and end to end",
          "[core][timing]") {
  scheduler_core core{one_slot()};
  core.set_clock(fake_clock);
  core.add_node(0);
  auto id = enqueue_at(core, 1'000);
  auto d = dispatch_at(core, 1'500);
  REQUIRE(d.size() == 1);
  fake_now_us = 10'000;
  SECTION("the node's run time") {
    REQUIRE(core.complete(id, d[0].epoch, no_node, caf::message{}, caf::error{},
                          run_timing{2'000, 10}));
    CHECK(core.timings().run_time.sum_us == 2'000);
  }
  SECTION("dispatch to result when the node did not measure") {
    REQUIRE(core.complete(id, d[0].epoch, false));
    CHECK(core.timings().run_time.sum_us == 8'500);
  }
  SECTION("dispatch to result when the node's figure saturated (71 minutes)") {
    fake_now_us = 5'000'000'000ull;
    REQUIRE(core.complete(id, d[0].epoch, no_node, caf::message{}, caf::error{},
                          run_timing{UINT32_MAX - 1, 0}));
    CHECK(core.timings().run_time.sum_us == 5'000'000'000ull - 1'500);
    CHECK(core.timings().run_time.buckets.back() == 1);
  }
  auto& t = core.timings();
  CHECK(t.queue_wait.sum_us == 500);
  CHECK(t.queue_wait.buckets[1] == 1);  // 500 us is the second bound
  CHECK(t.end_to_end.sum_us == fake_now_us - 1'000);
  for (auto* h : {&t.queue_wait, &t.run_time, &t.end_to_end})
    CHECK(h->count() == 1);
}

TEST_CASE("scheduler_core: a requeued task waits from its acceptance to its last dispatch",
          "[core][timing]") {
  scheduler_core core{one_slot()};
  core.set_clock(fake_clock);
  auto a = core.add_node(0);
  auto first = enqueue_at(core, 100);
  auto second = enqueue_at(core, 200);
  REQUIRE(dispatch_at(core, 1'000).size() == 1);  // first to a
  CHECK(core.remove_node(a).empty());             // back to the front
  core.add_node(0);
  auto d = dispatch_at(core, 50'000);
  REQUIRE(d.size() == 1);
  REQUIRE(d[0].id == first);
  fake_now_us = 60'000;
  REQUIRE(core.complete(first, d[0].epoch, true));
  auto next = dispatch_at(core, 61'000);
  REQUIRE(next.size() == 1);
  fake_now_us = 62'000;
  REQUIRE(core.complete(second, next[0].epoch, false));
  auto& t = core.timings();
  CHECK(t.queue_wait.sum_us == (50'000 - 100) + (61'000 - 200));
  CHECK(t.end_to_end.sum_us == (60'000 - 100) + (62'000 - 200));
  CHECK(t.queue_wait.count() == core.count().succeeded + core.count().failed);
}

TEST_CASE("scheduler_core: cancelled quarantined and late tasks are not timed",
          "[core][timing]") {
  core_limits lim;
  lim.max_workers = 2;
  lim.max_node_failures = 1;
  scheduler_core core{lim};
  core.set_clock(fake_clock);
  auto a = core.add_node(0);
  auto ran = enqueue_at(core, 0);
  auto cancelled = enqueue_at(core, 0);
  auto d = dispatch_at(core, 10);
  REQUIRE(d.size() == 2);
  auto pending = enqueue_at(core, 20);
  CHECK(core.cancel(pending));
  CHECK(core.cancel(cancelled));
  CHECK_FALSE(core.complete(cancelled, d[1].epoch, true));  // late
  fake_now_us = 30;
  REQUIRE(core.complete(ran, d[0].epoch, true));
  auto quarantined = enqueue_at(core, 40);
  REQUIRE(dispatch_at(core, 50).size() == 1);
  CHECK(core.remove_node(a).size() == 1);
  CHECK_FALSE(core.unfinished(quarantined));
  auto& t = core.timings();
  for (auto* h : {&t.queue_wait, &t.run_time, &t.end_to_end})
    CHECK(h->count() == 1);
  CHECK(t.end_to_end.sum_us == 30);
}

TEST_CASE("scheduler_core: restored tasks wait from the restart", "[core][timing]") {
  scheduler_core core{one_slot()};
  core.set_clock(fake_clock);
  journal_snapshot snap;
  snap.next_id = 8;
  snap.functions = {"f"};
  snap.pending.push_back(restored_task{6, 0, 0, 0, true, caf::make_message(int32_t{6}), {}, 0});
  snap.pending.push_back(restored_task{7, 0, 0, 0, false, caf::make_message(int32_t{7}), {}, 0});
  fake_now_us = 5'000;
  REQUIRE(!core.restore(std::move(snap)));
  core.add_node(0);
  auto d = dispatch_at(core, 6'000);
  REQUIRE(d.size() == 1);
  CHECK(d[0].id == 6);
  fake_now_us = 6'500;
  REQUIRE(core.complete(6, d[0].epoch, true));
  auto next = dispatch_at(core, 7'000);
  REQUIRE(next.size() == 1);
  fake_now_us = 7'100;
  REQUIRE(core.complete(7, next[0].epoch, true));
  CHECK(core.timings().queue_wait.sum_us == 1'000 + 2'000);
  CHECK(core.timings().end_to_end.sum_us == 1'500 + 2'100);
}

TEST_CASE("pending_queue: accepted times and ids survive requeue pop and remove",
          "[core][pending_queue][timing]") {
  pending_queue q;
  q.push_back(1, 0, 0, caf::make_message(int32_t{1}), 0, 111);
  q.push_back(2, 0, 0, caf::make_message(int32_t{2}), 0, 222);
  q.push_front(queued_task{9, 0, 0, 1, caf::make_message(int32_t{9}), 1, 999});
  q.push_front(queued_task{8, 0, 0, 1, caf::make_message(int32_t{8}), 1, 888});
  std::vector<task_id> seen;
  q.for_each([&](task_id id, int32_t, uint32_t, const caf::message&) { seen.push_back(id); });
  CHECK(seen == std::vector<task_id>{8, 9, 1, 2});
  auto removed = q.remove(9);
  REQUIRE(removed);
  CHECK(removed->accepted_us == 999);
  CHECK_FALSE(q.contains(9));
  auto x = q.pop();
  CHECK(x.id == 8);
  CHECK(x.accepted_us == 888);
  CHECK(x.lease == 1);
  x = q.pop();
  CHECK(x.id == 1);
  CHECK(x.accepted_us == 111);
  CHECK(q.remove(2)->accepted_us == 222);
  CHECK(q.empty());
}

TEST_CASE("stats: the histograms survive CAF's serialization", "[core][timing]") {
  stats s;
  s.queue_wait.observe(50);
  s.run_time.observe(7'000'000);
  s.end_to_end.observe(99'000'000'000ull);
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  REQUIRE(!sink(s));
  stats back;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE(!source(back));
  CHECK(back.queue_wait.buckets == s.queue_wait.buckets);
  CHECK(back.run_time.buckets == s.run_time.buckets);
  CHECK(back.end_to_end.buckets.back() == 1);
  CHECK(back.end_to_end.sum_us == 99'000'000'000ull);
}
