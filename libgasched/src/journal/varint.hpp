// LEB128 varints, zigzag for signed numbers: what the journal's packed blobs
// (task_block.hpp, change_pack.hpp) are made of. A task's numbers take a
// byte or two each.
#pragma once

#include <cstdint>
#include <vector>

namespace gasched::detail::varint {

inline void put(std::vector<char>& out, uint64_t x) {
  while (x >= 0x80) {
    out.push_back(static_cast<char>((x & 0x7f) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

inline void put_signed(std::vector<char>& out, int64_t x) {
  put(out, (static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63));
}

/// false: cut short, or longer than 64 bits.
inline bool get(const unsigned char*& p, const unsigned char* end, uint64_t& x) {
  x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p == end)
      return false;
    auto b = *p++;
    x |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0)
      return true;
  }
  return false;
}

inline bool get_signed(const unsigned char*& p, const unsigned char* end, int64_t& x) {
  uint64_t u = 0;
  if (!get(p, end, u))
    return false;
  x = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return true;
}

} // namespace gasched::detail::varint
