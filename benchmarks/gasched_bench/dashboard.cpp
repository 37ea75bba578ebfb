// The dashboard's cost: throughput with the HTTP endpoint serving a page
// that is open (the page loads once, then asks /api/stats once a second, as
// dashboard.html does) and with ten times that (ten pages, or a scraper of
// /metrics at 10 Hz), beside the same run without the endpoint. Runs of each
// kind alternate, so all see the same machine load.
#include "scenarios.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "gasched/http.hpp"

namespace gasched::bench {

namespace {

// An endpoint on the scheduler and a client thread that polls it.
class page_watcher {
public:
  page_watcher(http_server srv, caf::timespan period)
    : srv_(std::move(srv)), thread_([this, period] { poll(period); }) {
  }

  ~page_watcher() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    srv_.stop();
  }

  // Requests answered with 200 so far.
  size_t answered() const {
    return answered_;
  }

private:
  void poll(caf::timespan period) {
    httplib::Client cli(srv_.host(), srv_.port());
    cli.set_read_timeout(10);
    auto get = [&](const char* path) {
      if (auto res = cli.Get(path); res && res->status == 200)
        ++answered_;
    };
    get("/");
    std::unique_lock<std::mutex> lock{mtx_};
    while (!stop_) {
      lock.unlock();
      get("/api/stats");
      get("/metrics");
      lock.lock();
      cv_.wait_for(lock, period, [this] { return stop_; });
    }
  }

  http_server srv_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<size_t> answered_{0};
  std::thread thread_;  // last: it starts once the rest is built
};

} // namespace

void dashboard(context& c) {
  auto q = c.opts.quick;
  size_t n = q ? 5000 : 400000;
  auto label = std::to_string(n) + " identity tasks, default settings";
  figure plain{"dashboard", label + ", no endpoint", "tasks/s", {}, "", ""};
  figure figures[] = {
    {"dashboard", label + ", a page open (1 poll/s)", "tasks/s", {}, "", ""},
    {"dashboard", label + ", 10 polls/s", "tasks/s", {}, "", ""},
  };
  figure shares[] = {
    {"dashboard", "a page open: throughput of no endpoint", "%", {}, "",
     "per pair of runs; the target is at least 95 %"},
    {"dashboard", "10 polls/s: throughput of no endpoint", "%", {}, "", "per pair of runs"},
  };
  const caf::timespan periods[] = {std::chrono::seconds(1), std::chrono::milliseconds(100)};
  size_t requests = 0;
  for (int i = 0; i < c.runs; ++i) {
    plain.runs.push_back(throughput_run(c.sys, c.opts, n, adaptive_prefetch, true));
    for (size_t k = 0; k < 2; ++k) {
      std::shared_ptr<page_watcher> watcher;
      auto watch = [&](const gasched::scheduler_actor& sched) -> std::shared_ptr<void> {
        http_options ho;
        ho.port = 0;
        auto srv = serve_http(c.sys, sched, ho);
        if (!srv)
          throw std::runtime_error("dashboard: " + describe(srv.error()));
        watcher = std::make_shared<page_watcher>(std::move(*srv), periods[k]);
        return watcher;
      };
      figures[k].runs.push_back(
        throughput_run(c.sys, c.opts, n, adaptive_prefetch, true, {}, watch));
      shares[k].runs.push_back(100.0 * figures[k].runs.back() / plain.runs.back());
      requests += watcher->answered();
    }
  }
  if (requests == 0)
    throw std::runtime_error("dashboard: the endpoint answered no request");
  c.add(plain);
  for (size_t k = 0; k < 2; ++k) {
    c.add(figures[k]);
    c.add(shares[k]);
  }
}

} // namespace gasched::bench
