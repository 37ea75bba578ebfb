// Latency: sequential round trips of one task, beside CAF's own.
#include "scenarios.hpp"

#include <iostream>
#include <memory>

#include "wire.hpp"

namespace gasched::bench {

// From an event-based client: await, result, next.
std::vector<double> latency_run(caf::actor_system& sys, const options& opts, size_t n,
                                bool caf_floor) {
  bench_cluster c{sys, opts, 2};
  auto sched = c.scheduler(10, nullptr);
  auto node = c.nodes().front();
  auto samples = std::make_shared<std::vector<double>>();
  auto client = sys.spawn([=](caf::event_based_actor* self) {
    auto next = std::make_shared<std::function<void(int32_t)>>();
    *next = [=](int32_t i) {
      if (static_cast<size_t>(i) == n) {
        self->quit();
        return;
      }
      auto t0 = clock_type::now();
      auto record = [=] {
        samples->push_back(
          std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        (*next)(i + 1);
      };
      if (caf_floor) {
        self->request(node, 10s, hello_atom::value)
          .then([=](detail::node_info&) { record(); },
                [=](caf::error&) { self->quit(); });
        return;
      }
      self
        ->request(sched, 10s, await_atom::value,
                  task{"test.identity", caf::make_message(i)})
        .then(
          [=](task_result&) { record(); },
          [=](caf::error&) { self->quit(); });
    };
    (*next)(-100);  // 100 warm-up round trips first
  });
  c.self()->wait_for(client);
  samples->erase(samples->begin(), samples->begin() + std::min<size_t>(100, samples->size()));
  if (samples->size() != n)
    throw std::runtime_error("latency: a round trip failed");
  return *samples;
}

void latency(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 100 : 2000;
  std::vector<std::vector<double>> all;
  figure floor{"latency", "CAF's own remote request/response p50 (the floor)", "us", {},
               "", "hello to a node actor, same processes"};
  for (int i = 0; i < c.runs; ++i) {
    all.push_back(latency_run(c.sys, c.opts, n));
    floor.runs.push_back(percentile(latency_run(c.sys, c.opts, n, true), 0.5));
  }
  figure p50{"latency", "round trip p50, " + std::to_string(n) + " sequential", "us",
             {}, "104", ""};
  figure p99{"latency", "round trip p99", "us", {}, "178", ""};
  figure max{"latency", "round trip max", "us", {}, "up to 4,300", ""};
  for (auto& s : all) {
    p50.runs.push_back(percentile(s, 0.5));
    p99.runs.push_back(percentile(s, 0.99));
    max.runs.push_back(*std::max_element(s.begin(), s.end()));
  }
  for (auto* f : {&p50, &p99, &max, &floor})
    c.add(*f);
}

} // namespace gasched::bench
