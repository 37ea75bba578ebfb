// The arguments of a pending task in 16 bytes.
//
// A caf::message holding one int32 costs 80 bytes (a 16-byte handle and a
// 64-byte heap block), so a million pending tasks would hold 80 MB of
// arguments. A message of one scalar, or of two among bool, 32- and 64-bit
// integers and double (the common "process batch n" task), is stored inline
// instead and rebuilt when the task is dispatched; any other message is kept
// by reference to its shared data (8 bytes).
#pragma once

#include <cstdint>

#include <caf/message.hpp>

namespace gasched::detail {

class compact_args {
public:
  compact_args() noexcept;
  explicit compact_args(caf::message&& msg);
  compact_args(compact_args&& other) noexcept;
  compact_args& operator=(compact_args&& other) noexcept;
  compact_args(const compact_args&) = delete;
  compact_args& operator=(const compact_args&) = delete;
  ~compact_args();

  /// The arguments as a message (a new one when stored inline).
  caf::message to_message() const;

  /// Whether the values live inside this object rather than on the heap.
  bool is_inline() const noexcept;

private:
  static constexpr uint16_t heap_flag = 1u << 15;

  caf::message::data_ptr& heap_ptr() noexcept;
  const caf::message::data_ptr& heap_ptr() const noexcept;
  void release() noexcept;

  // Inline: the values back to back; heap: a message::data_ptr at offset 0.
  alignas(8) unsigned char bytes_[14];
  // Inline: bits 0-1 element count, 2-5 first kind, 6-9 second kind; or heap_flag.
  uint16_t layout_;
};

static_assert(sizeof(compact_args) == 16, "compact_args must stay 16 bytes");

} // namespace gasched::detail
