// Micro-benchmarks of the scheduling core, no actors: what the scheduler
// itself spends per task. Run: build/benchmarks/gasched-core-bench
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>

#include <caf/make_message.hpp>

#include "core/scheduler_core.hpp"

using namespace gasched::detail;

namespace {

core_limits limits(uint32_t max_workers) {
  return core_limits{max_workers, 0, 3};
}

// Accepting tasks into pending, 1,000 per iteration; the messages are built
// outside the timing (pausing the clock per task would cost more than a task).
void enqueue(benchmark::State& state, int priorities) {
  scheduler_core core{limits(10)};
  int32_t i = 0;
  std::vector<caf::message> args(1000);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& m : args)
      m = caf::make_message(i++);
    state.ResumeTiming();
    for (auto& m : args) {
      auto prio = priorities > 1 ? static_cast<int32_t>(i % priorities) : 0;
      benchmark::DoNotOptimize(core.enqueue("test.identity", std::move(m), prio));
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

void BM_enqueue(benchmark::State& state) {
  enqueue(state, 1);
}

void BM_enqueue_4_priorities(benchmark::State& state) {
  enqueue(state, 4);
}

// The steady state of a busy cluster: a result comes in, a new task is
// enqueued, and the freed slot is filled. Arg: number of nodes (10 slots each).
void BM_complete_enqueue_dispatch(benchmark::State& state) {
  auto nodes = static_cast<size_t>(state.range(0));
  scheduler_core core{limits(10)};
  for (size_t n = 0; n < nodes; ++n)
    core.add_node(0);
  std::deque<std::pair<gasched::task_id, uint32_t>> running;
  auto record = [&](const dispatch_order& d) { running.emplace_back(d.id, d.epoch); };
  int32_t i = 0;
  for (size_t k = 0; k < nodes * 20; ++k)
    core.enqueue("test.identity", caf::make_message(i++), 0);
  core.dispatch(record);
  for (auto _ : state) {
    auto [id, epoch] = running.front();
    running.pop_front();
    benchmark::DoNotOptimize(core.complete(id, epoch, true));
    benchmark::DoNotOptimize(core.enqueue("test.identity", caf::make_message(i++), 0));
    core.dispatch(record);
  }
  state.SetItemsProcessed(state.iterations());
}

// A node with `Arg` running tasks dies among 10,000 running in all.
void BM_node_down(benchmark::State& state) {
  auto per_node = static_cast<uint32_t>(state.range(0));
  auto nodes = 10000 / per_node;
  for (auto _ : state) {
    state.PauseTiming();
    auto core = std::make_unique<scheduler_core>(limits(per_node));
    for (uint32_t n = 0; n < nodes; ++n)
      core->add_node(0);
    for (int32_t k = 0; k < 10000; ++k)
      core->enqueue("test.identity", caf::make_message(k), 0);
    core->dispatch([](const dispatch_order&) {});
    state.ResumeTiming();
    benchmark::DoNotOptimize(core->remove_node(0));
    // Freeing 10,000 tasks is not part of a node's death.
    state.PauseTiming();
    core.reset();
    state.ResumeTiming();
  }
}

// Cancelling pending tasks, every other one of 100,000: found by binary search.
void BM_cancel_pending(benchmark::State& state) {
  std::unique_ptr<scheduler_core> core;
  gasched::task_id next = 0;
  for (auto _ : state) {
    if (core == nullptr || next > 100000) {
      state.PauseTiming();
      core = std::make_unique<scheduler_core>(limits(10));
      for (int32_t k = 0; k < 100000; ++k)
        core->enqueue("test.identity", caf::make_message(k), 0);
      next = 1;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(core->cancel(next));
    next += 2;
  }
  state.SetItemsProcessed(state.iterations());
}

} // namespace

BENCHMARK(BM_enqueue);
BENCHMARK(BM_enqueue_4_priorities);
BENCHMARK(BM_complete_enqueue_dispatch)->Arg(2)->Arg(16)->Arg(64)->Arg(256);
BENCHMARK(BM_node_down)->Arg(10)->Arg(1000);
BENCHMARK(BM_cancel_pending);
BENCHMARK_MAIN();
