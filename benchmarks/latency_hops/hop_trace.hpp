// Per-hop timestamps of the latency benchmark's round trips, for finding
// where the time goes (not built; include it where you measure).
//
// Every process that is started with GASCHED_HOPS=<dir> writes its stamps
// (CLOCK_MONOTONIC, which all processes of one machine share) to
// <dir>/hops.<pid>; the file is mmap'd, so a node that is killed keeps them.
// hops.py joins them into hop-by-hop medians. The stages it knows, and where
// they were placed for the figures in the session notes:
//    1/11  bench latency.cpp: the client before request(sched, await) / in its .then
//   21/23  the same around request(node, hello)            22  node: hello handler
//    2  scheduler: await_task() entry     3  flush(): before send(run_atom)
//    4  node: take_orders() entry         5  task_pool::submit() end
//    6  pool thread: took the job         7  after run_attempts()
//   15  outbox::post() entry             12  outbox: before send_as
//    8  pool thread: after post()         9  scheduler: take_outcomes() entry
//   13  after core->complete()           14  after make_result()
//   10  take_outcomes(): after deliver() 24  the client: request() returned
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>

namespace gasched::hops {

struct record {
  int64_t ns;
  int64_t stage;
};

class buffer {
public:
  static constexpr size_t capacity = size_t{1} << 20;

  buffer() {
    auto dir = std::getenv("GASCHED_HOPS");
    if (dir == nullptr)
      return;
    auto path = std::string{dir} + "/hops." + std::to_string(getpid());
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
      return;
    if (ftruncate(fd, capacity * sizeof(record)) == 0) {
      auto p = mmap(nullptr, capacity * sizeof(record), PROT_READ | PROT_WRITE, MAP_SHARED,
                    fd, 0);
      if (p != MAP_FAILED)
        records_ = static_cast<record*>(p);
    }
    close(fd);
  }

  void add(int stage) noexcept {
    if (records_ == nullptr)
      return;
    auto i = next_++;
    if (i >= capacity)
      return;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    records_[i] = record{ts.tv_sec * 1000000000LL + ts.tv_nsec, stage};
  }

private:
  std::atomic<size_t> next_{0};
  record* records_ = nullptr;
};

/// Stamps `stage` now (nothing without GASCHED_HOPS).
inline void hop(int stage) noexcept {
  static buffer b;
  b.add(stage);
}

} // namespace gasched::hops
