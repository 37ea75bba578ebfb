#include "journal/writer_thread.hpp"

#include <utility>

namespace gasched::detail {

writer_thread::writer_thread() : thread_([this] { run(); }) {
}

void writer_thread::on_done(std::function<void()> done) {
  std::lock_guard<std::mutex> guard{mtx_};
  done_ = std::move(done);
}

writer_thread::~writer_thread() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void writer_thread::start(std::function<caf::error()> job) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    job_ = std::move(job);
  }
  in_hand_ = true;
  cv_.notify_all();
}

std::optional<caf::error> writer_thread::poll() {
  if (!in_hand_)
    return caf::error{};
  std::lock_guard<std::mutex> guard{mtx_};
  if (job_)
    return std::nullopt;
  in_hand_ = false;
  return std::move(outcome_);
}

void writer_thread::wait_ended() {
  std::unique_lock<std::mutex> lock{mtx_};
  cv_.wait(lock, [this] { return !job_; });
}

void writer_thread::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return job_ || stop_; });
    if (!job_)
      return;  // stopping, and nothing in hand
    auto job = job_;
    lock.unlock();
    auto outcome = job();
    lock.lock();
    outcome_ = std::move(outcome);
    job_ = nullptr;
    cv_.notify_all();
    if (auto done = done_) {
      lock.unlock();
      done();
      lock.lock();
    }
  }
}

} // namespace gasched::detail
