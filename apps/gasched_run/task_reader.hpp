// Reads a task file (a regular file, stdin, a FIFO, a pipe) on a thread of
// its own, a piece at a time, so that the run starts before the file ends
// and memory does not grow with it. Flow control is a window of credits:
// each line read (a task or a malformed line) takes one, and the reader
// waits while none is left; release() gives them back once lines are
// written out. So at most `window` lines are ever held between the file
// and stdout, however long the file.
//
// A journaled run that resumes skips the lines an earlier run took
// (resume_after): read again, not parsed, and checked against the position
// that run recorded, so that another file is refused instead of run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gasched_run/byte_hash.hpp"
#include "gasched_run/task_file.hpp"

namespace gasched::run {

class task_reader {
public:
  /// Lines handed over at once at most: few enough that the run starts
  /// early, enough that the hand-overs (a lock and a wake-up each) cost
  /// nothing per line.
  static constexpr size_t piece_lines = 4096;

  /// Opens `path` ("-": stdin); opening a FIFO waits for its writer, as
  /// reading it would. Throws std::runtime_error when it cannot be read.
  task_reader(const std::string& path, uint64_t window);
  ~task_reader();  // stop()
  task_reader(const task_reader&) = delete;
  task_reader& operator=(const task_reader&) = delete;

  /// Before start(): skip the lines up to `pos` (they must hash as
  /// recorded), and count `held` lines as already in flight (their results
  /// not yet written out).
  void resume_after(const input_position& pos, uint64_t held);

  /// Starts reading, up to the window, before anyone takes lines.
  void start();

  /// After resume_after(): waits until the skipped lines were read and
  /// checked (or `stop` says to give up: false, as wait_for_lines).
  bool wait_resumed(const std::function<bool()>& stop);

  /// Why the skipped lines are not the recorded ones; empty when they are.
  std::string resume_error();

  /// Where the last line taken ends (blank lines after it not counted).
  const input_position& taken() const noexcept {
    return taken_;
  }

  /// `wake` is called (on the reader's thread, and once now) whenever lines
  /// were added or the input ended; it must not block.
  void set_wake(std::function<void()> wake);

  /// Lines read (blank ones included); exact once stop() returned.
  size_t lines_read() const noexcept {
    return lines_read_;
  }

  /// Moves the lines read so far into `out` (appended), whole pieces as they
  /// were read (up to piece_lines each), while fewer than `max` are taken.
  void take(task_file& out, size_t max);

  /// Whether the input ended and take() handed out everything.
  bool ended();

  /// Waits until a line was read or the input ended; false when `stop`
  /// said to give up first. `stop` is asked again whenever poke() is called
  /// (no timer: an idle input costs nothing while it is waited for).
  bool wait_for_lines(const std::function<bool()>& stop);

  /// Makes wait_for_lines() ask its `stop` again; from any thread.
  void poke();

  /// `n` lines were written out: room for as many more.
  void release(uint64_t n);

  uint64_t bytes_read() const noexcept {
    return bytes_read_;
  }

  /// The file's size when it is a regular file, else 0 (a stream).
  uint64_t bytes_total() const noexcept {
    return bytes_total_;
  }

  /// Stops reading (even while blocked on an idle FIFO) and joins the
  /// thread; lines not yet taken stay takeable. Idempotent.
  void stop();

private:
  void read_loop();
  bool wait_for_credit();
  // Parses what `buf` holds (as credits allow); false when stopped.
  bool parse_some(const char* buf, size_t size, size_t& at, task_file& batch);
  void publish(task_file& batch, bool eof);
  // Blocks until the input is readable or stop(); false on stop.
  bool await_input();
  // Skips lines of `buf` while resuming; then hands over to parsing.
  void skip_some(const char* buf, size_t size, size_t& at);
  void end_skip(std::string error);
  // The end of the input: the last line, then the end published.
  void finish(task_file& batch);

  int fd_ = -1;
  bool own_fd_ = false;
  int stop_pipe_[2] = {-1, -1};
  uint64_t bytes_total_ = 0;
  std::atomic<uint64_t> bytes_read_{0};
  std::function<void()> wake_;
  std::thread thread_;
  line_splitter splitter_;
  std::atomic<size_t> lines_read_{0};
  std::string path_;
  byte_hash hash_;          // of every byte read
  input_position last_;     // after the last line parsed (reader's thread)
  input_position skip_to_;  // resume_after()
  uint64_t skipped_ = 0;    // lines skipped so far
  bool skipping_ = false;   // reader's thread; resumed_ tells the others
  input_position taken_;    // main thread

  std::mutex mtx_;
  std::condition_variable cv_;
  uint64_t credits_;
  uint64_t refill_;  // room the reader waits for once the window is full
  bool stopping_ = false;
  bool eof_ = false;
  // Read, not yet taken: whole pieces, each with where its last line ends,
  // so that taking some of them knows where the lines taken end.
  struct piece {
    task_file lines;
    input_position end;
  };
  std::deque<piece> ready_;
  bool resumed_ = true;
  std::string resume_error_;
};

} // namespace gasched::run
