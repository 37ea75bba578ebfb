// A block of the journal file: the tasks one commit accepted, still
// unfinished when it was written, packed into one blob (journal_file.hpp):
// one row for up to max_tasks tasks instead of a row each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "journal/packed_blob.hpp"

namespace gasched::detail {

/// One task as a block keeps it. Its later changes (dispatched, requeued)
/// go to move packs; its end to an end pack (change_pack.hpp).
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
class block_writer : public packed_writer {
public:
  /// Most tasks in one block: a task read back by id (await) decodes at
  /// most this many.
  static constexpr size_t max_tasks = 1024;

  void add(const block_task& t);
};

/// Reads the tasks of a blob in order; refuses damaged bytes.
class block_reader : public packed_reader {
public:
  using packed_reader::packed_reader;

  /// The next task: true; false at the end, or with `damaged` set when the
  /// bytes are not a block (cut short, a number out of range, a task
  /// without arguments).
  bool next(block_task& t);
};

} // namespace gasched::detail
