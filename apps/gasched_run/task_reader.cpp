#include "gasched_run/task_reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace gasched::run {

namespace {

template <class T>
void append(std::vector<T>& to, std::vector<T>& from) {
  if (to.empty())
    to.swap(from);
  else
    to.insert(to.end(), std::make_move_iterator(from.begin()),
              std::make_move_iterator(from.end()));
  from.clear();
}

} // namespace

task_reader::task_reader(const std::string& path, uint64_t window)
  : path_(path == "-" ? "stdin" : path),
    credits_(window),
    refill_(std::clamp<uint64_t>(window / 8, 1, piece_lines)) {
  if (path == "-") {
    fd_ = STDIN_FILENO;
  } else {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    own_fd_ = true;
  }
  struct stat st {};
  if (fstat(fd_, &st) == 0 && S_ISREG(st.st_mode))
    bytes_total_ = static_cast<uint64_t>(st.st_size);
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
}

task_reader::~task_reader() {
  stop();
  if (own_fd_)
    ::close(fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void task_reader::resume_after(const input_position& pos, uint64_t held) {
  skip_to_ = pos;
  taken_ = last_ = pos;
  skipping_ = pos.line > 0;
  resumed_ = !skipping_;
  credits_ -= std::min(held, credits_ - 1);  // the window holds them too
}

bool task_reader::wait_resumed(const std::function<bool()>& stop) {
  std::unique_lock<std::mutex> lock{mtx_};
  while (!resumed_) {
    if (stop())
      return false;
    cv_.wait(lock);
  }
  return true;
}

std::string task_reader::resume_error() {
  std::lock_guard<std::mutex> guard{mtx_};
  return resume_error_;
}

void task_reader::end_skip(std::string error) {
  skipping_ = false;
  splitter_.resume_at(skipped_);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    resumed_ = true;
    resume_error_ = std::move(error);
  }
  cv_.notify_all();
}

// Lines up to skip_to_ are counted and hashed, not parsed: they ran before.
void task_reader::skip_some(const char* buf, size_t size, size_t& at) {
  while (skipping_ && at < size) {
    auto* nl = static_cast<const char*>(std::memchr(buf + at, '\n', size - at));
    auto n = nl ? static_cast<size_t>(nl - (buf + at)) + 1 : size - at;
    hash_.add(buf + at, n);
    at += n;
    if (!nl)
      return;
    if (++skipped_ == skip_to_.line) {
      auto same = hash_.bytes() == skip_to_.bytes && hash_.value() == skip_to_.hash;
      end_skip(same ? std::string{}
                    : path_ + " is not the task file of the journal's run: its first "
                        + std::to_string(skipped_) + " lines differ from the ones that run "
                        + "read");
      last_ = input_position{skipped_, hash_.bytes(), hash_.value()};
    }
  }
}

void task_reader::start() {
  thread_ = std::thread{[this] { read_loop(); }};
}

void task_reader::set_wake(std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    wake_ = wake;
  }
  if (wake)
    wake();  // lines read before now: the taker looks
}

void task_reader::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_all();
  char byte = 1;
  [[maybe_unused]] auto n = ::write(stop_pipe_[1], &byte, 1);  // wakes a poll()
  if (thread_.joinable())
    thread_.join();
  std::lock_guard<std::mutex> guard{mtx_};
  wake_ = nullptr;  // it may hold an actor handle: not past the actor system
}

bool task_reader::await_input() {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return true;  // let read() say what is wrong
    }
    return (fds[1].revents & POLLIN) == 0;
  }
}

void task_reader::publish(task_file& batch, bool eof) {
  if (batch.tasks.empty() && batch.bad.empty() && !eof)
    return;
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!batch.tasks.empty() || !batch.bad.empty())
      ready_.push_back(piece{std::move(batch), last_});
    eof_ = eof_ || eof;
    wake = wake_;
  }
  batch = task_file{};  // moved from: valid, but not known to be empty
  lines_read_ = splitter_.lines();
  cv_.notify_all();
  if (wake)
    wake();
}

bool task_reader::wait_for_credit() {
  std::unique_lock<std::mutex> lock{mtx_};
  // Wait for a refill's worth of room, not for one line: refilled line by
  // line, the window would go out as one-task batches, a message each.
  cv_.wait(lock, [this] { return credits_ >= refill_ || stopping_; });
  return !stopping_;
}

bool task_reader::parse_some(const char* buf, size_t size, size_t& at, task_file& batch) {
  while (at < size) {
    if (batch.tasks.size() + batch.bad.size() >= piece_lines)
      publish(batch, false);
    bool have_credit;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      have_credit = credits_ > 0 && !stopping_;
    }
    if (!have_credit) {
      publish(batch, false);  // what was read goes out before waiting for room
      if (!wait_for_credit())
        return false;
    }
    auto before = batch.tasks.size() + batch.bad.size();
    auto n = splitter_.consume(buf + at, size - at, batch);
    hash_.add(buf + at, n);
    at += n;
    if (batch.tasks.size() + batch.bad.size() > before) {
      last_ = input_position{splitter_.lines(), hash_.bytes(), hash_.value()};
      std::lock_guard<std::mutex> guard{mtx_};
      --credits_;
    }
  }
  return true;
}

void task_reader::read_loop() {
  std::vector<char> buf(size_t{1} << 16);
  task_file batch;
  size_t size = 0, at = 0;
  for (;;) {
    if (at == size) {
      publish(batch, false);
      if (!await_input())
        return;
      auto n = ::read(fd_, buf.data(), buf.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {  // the end, or an input that cannot be read on: the end too
        finish(batch);
        return;
      }
      bytes_read_ += static_cast<uint64_t>(n);
      size = static_cast<size_t>(n);
      at = 0;
    }
    skip_some(buf.data(), size, at);
    if (!skipping_ && !parse_some(buf.data(), size, at, batch))
      return;
  }
}

void task_reader::finish(task_file& batch) {
  if (skipping_) {
    // A last line without a newline counts as a line, as the splitter has it.
    if (hash_.bytes() > 0 && skipped_ + 1 == skip_to_.line && hash_.bytes() == skip_to_.bytes
        && hash_.value() == skip_to_.hash) {
      ++skipped_;
      end_skip({});
    } else {
      end_skip(path_ + " is not the task file of the journal's run: it ends after "
               + std::to_string(skipped_) + " lines, and that run had read "
               + std::to_string(skip_to_.line));
    }
  }
  auto before = batch.tasks.size() + batch.bad.size();
  splitter_.finish(batch);
  if (batch.tasks.size() + batch.bad.size() > before)
    last_ = input_position{splitter_.lines(), hash_.bytes(), hash_.value()};
  publish(batch, true);
}

void task_reader::take(task_file& out, size_t max) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (size_t taken = 0; !ready_.empty() && taken < max;) {
    auto& p = ready_.front();
    taken += p.lines.tasks.size() + p.lines.bad.size();
    append(out.tasks, p.lines.tasks);
    append(out.bad, p.lines.bad);
    taken_ = p.end;
    ready_.pop_front();
  }
}

bool task_reader::ended() {
  std::lock_guard<std::mutex> guard{mtx_};
  return eof_ && ready_.empty();
}

bool task_reader::wait_for_lines(const std::function<bool()>& stop) {
  std::unique_lock<std::mutex> lock{mtx_};
  while (!eof_ && ready_.empty()) {
    if (stop())
      return false;
    cv_.wait(lock);
  }
  return true;
}

void task_reader::poke() {
  // Under the lock: a waiter between its stop() and its wait cannot miss it.
  std::lock_guard<std::mutex> guard{mtx_};
  cv_.notify_all();
}

void task_reader::release(uint64_t n) {
  bool wake;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto below = credits_ < refill_;
    credits_ += n;
    wake = below && credits_ >= refill_;
  }
  if (wake)
    cv_.notify_all();
}

} // namespace gasched::run
