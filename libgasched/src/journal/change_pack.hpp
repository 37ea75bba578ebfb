// Packs of the journal file (format 6): the ends of the tasks that one
// commit finished, and the moves (dispatched, requeued) of block tasks, each
// packed into a blob rather than written as a row per task. A row costs
// SQLite a statement step, a B-tree cell and its share of a WAL page; a pack
// entry is a few varints (varint.hpp) and the bytes of its value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "journal/packed_blob.hpp"

namespace gasched::detail {

/// A task's end as an end pack keeps it. The time it finished is the pack's.
struct packed_end {
  int64_t id = 0;
  int64_t node = -1;  ///< the journal's node number; -1: none
  uint8_t how = 0;    ///< outcome_kind
  const char* value = nullptr;  ///< CAF's binary format; size 0: none
  size_t value_size = 0;
  const char* error = nullptr;  ///< CAF's binary format; size 0: none
  size_t error_size = 0;
};

/// Ends in ascending ids, cut so that a task's end is found by id among a
/// few packs: at most max_ends, and ids at most max_span apart.
class end_pack_writer : public packed_writer {
public:
  static constexpr size_t max_ends = 1024;
  static constexpr int64_t max_span = 4096;  ///< last_id - first_id

  /// Whether the end of `id` (above every id added) goes into this pack.
  bool fits(int64_t id) const noexcept {
    return size() == 0 || (size() < max_ends && id - first_id() <= max_span);
  }

  void add(const packed_end& e);
};

/// Reads the ends of a pack in order; refuses damaged bytes.
class end_pack_reader : public packed_reader {
public:
  using packed_reader::packed_reader;

  /// The next end: true; false at the end, or with `damaged` set.
  bool next(packed_end& e);
};

/// The ids of an end pack whose row says first..last, appended to `out`:
/// false when the pack is damaged or an id is outside its range.
bool read_end_ids(const void* data, size_t size, int64_t first, int64_t last,
                  std::vector<int64_t>& out);

/// A block task's change as a move pack keeps it; -1 or false: unchanged
/// (seq, node_failures) or none (node, epoch).
struct packed_move {
  int64_t id = 0;
  int64_t state = 0;  ///< 0 pending, 1 running
  bool has_seq = false;
  int64_t seq = 0;
  bool has_node_failures = false;
  int64_t node_failures = 0;
  int64_t node = -1;   ///< the journal's node number of its lease
  int64_t epoch = -1;  ///< its lease's epoch
};

/// The moves of one commit in ascending ids. A later pack's move of a task
/// replaces an earlier one's.
class move_pack_writer : public packed_writer {
public:
  void add(const packed_move& m);
};

/// Reads the moves of a pack in order; refuses damaged bytes.
class move_pack_reader : public packed_reader {
public:
  using packed_reader::packed_reader;

  /// The next move: true; false at the end, or with `damaged` set.
  bool next(packed_move& m);
};

} // namespace gasched::detail
