// Numbers as the programs print them for people.
#pragma once

#include <cstdint>
#include <string>

namespace gasched {

/// 1234567 -> "1,234,567".
inline std::string with_commas(uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

} // namespace gasched
