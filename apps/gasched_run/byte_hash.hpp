// A running 64-bit FNV-1a hash of a byte stream: how a journaled run
// recognises, on resume, the task file it read and the output it wrote
// (journal_checkpoint.hpp). Not a cryptographic hash: it catches another
// file or an edited one, not an attacker.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gasched::run {

class byte_hash {
public:
  byte_hash() = default;

  /// Goes on from a hash recorded after `bytes` bytes.
  byte_hash(uint64_t value, uint64_t bytes) noexcept : value_(value), bytes_(bytes) {
  }

  void add(const char* data, size_t size) noexcept {
    auto h = value_;
    for (size_t i = 0; i < size; ++i) {
      h ^= static_cast<unsigned char>(data[i]);
      h *= 0x100000001b3ULL;
    }
    value_ = h;
    bytes_ += size;
  }

  uint64_t value() const noexcept {
    return value_;
  }

  /// Bytes hashed so far.
  uint64_t bytes() const noexcept {
    return bytes_;
  }

private:
  uint64_t value_ = 0xcbf29ce484222325ULL;
  uint64_t bytes_ = 0;
};

/// How far a task file was taken: after `line` (numbered from 1; 0: none),
/// `bytes` into the file, which hash to `hash`.
struct input_position {
  uint64_t line = 0;
  uint64_t bytes = 0;
  uint64_t hash = byte_hash{}.value();
};

} // namespace gasched::run
