// A block of the journal file: the tasks one commit accepted, still
// unfinished when it was written, packed into one blob (journal_file.hpp):
// one row for up to max_tasks tasks instead of a row each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gasched::detail {

/// One task as a block keeps it. Its later changes (dispatched, requeued)
/// are rows of `moves`; its end a row of `ends`.
struct block_task {
  int64_t id = 0;
  uint32_t fn = 0;
  int32_t priority = 0;
  uint8_t state = 0;  ///< 0 pending, 1 running
  int64_t seq = 0;
  uint32_t node_failures = 0;
  int64_t node = -1;  ///< running: the journal's node number; -1: none
  uint32_t epoch = 0;
  const char* args = nullptr;  ///< CAF's binary format, never empty
  size_t args_size = 0;
};

/// Writes tasks one after another into a blob, in ascending ids.
class block_writer {
public:
  /// Most tasks in one block: a task read back by id (await) decodes at
  /// most this many.
  static constexpr size_t max_tasks = 1024;

  void add(const block_task& t);

  size_t size() const noexcept {
    return count_;
  }
  int64_t first_id() const noexcept {
    return first_;
  }
  int64_t last_id() const noexcept {
    return last_;
  }
  const std::vector<char>& bytes() const noexcept {
    return bytes_;
  }
  void clear() noexcept {
    bytes_.clear();
    count_ = 0;
  }

private:
  std::vector<char> bytes_;
  size_t count_ = 0;
  int64_t first_ = 0, last_ = 0;
};

/// Reads the tasks of a blob in order; refuses damaged bytes.
class block_reader {
public:
  block_reader(const void* data, size_t size)
    : at_(static_cast<const unsigned char*>(data)), end_(at_ + size) {
  }

  /// The next task: true; false at the end, or with `damaged` set when the
  /// bytes are not a block (cut short, a number out of range, a task
  /// without arguments).
  bool next(block_task& t);

  bool damaged() const noexcept {
    return damaged_;
  }

private:
  const unsigned char* at_;
  const unsigned char* end_;
  int64_t last_id_ = 0;
  bool damaged_ = false;
};

} // namespace gasched::detail
