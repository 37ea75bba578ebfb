// What the journal's packed blobs share (task_block.hpp, change_pack.hpp):
// entries in ascending ids, each beginning with its id's difference from the
// one before, then numbers as varints (varint.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "journal/varint.hpp"

namespace gasched::detail {

class packed_writer {
public:
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

protected:
  /// Begins the entry of `id`, above every id before it.
  void begin(int64_t id) {
    varint::put(bytes_, static_cast<uint64_t>(id - (count_ == 0 ? 0 : last_)));
    if (count_ == 0)
      first_ = id;
    last_ = id;
    ++count_;
  }

  std::vector<char> bytes_;

private:
  size_t count_ = 0;
  int64_t first_ = 0, last_ = 0;
};

class packed_reader {
public:
  packed_reader(const void* data, size_t size)
    : at_(static_cast<const unsigned char*>(data)), end_(at_ + size) {
  }

  /// Whether the bytes were not such a blob (cut short, ids not ascending,
  /// a number out of range).
  bool damaged() const noexcept {
    return damaged_;
  }

protected:
  /// The next entry: its id, then `decode(p, end, id)`, which reads the rest
  /// from p on and says whether it could. False at the end, or when damaged.
  template <class Decode>
  bool step(Decode&& decode) {
    if (at_ == end_ || damaged_)
      return false;
    auto p = at_;
    uint64_t delta = 0;
    if (!varint::get(p, end_, delta) || delta == 0
        || delta > uint64_t{INT64_MAX} - static_cast<uint64_t>(last_id_)
        || !decode(p, end_, last_id_ + static_cast<int64_t>(delta))) {
      damaged_ = true;
      return false;
    }
    last_id_ += static_cast<int64_t>(delta);
    at_ = p;
    return true;
  }

private:
  const unsigned char* at_;
  const unsigned char* end_;
  int64_t last_id_ = 0;
  bool damaged_ = false;
};

} // namespace gasched::detail
