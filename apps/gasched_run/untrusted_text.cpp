#include "gasched_run/untrusted_text.hpp"

#include <algorithm>
#include <cstdio>

namespace gasched::run {

namespace {

// The length of the valid UTF-8 sequence at text[i], or 0 (RFC 3629's
// table: no overlong forms, no surrogates, nothing beyond U+10FFFF).
size_t utf8_length(std::string_view text, size_t i) noexcept {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  auto lead = byte(i);
  if (lead < 0x80)
    return 1;
  size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;  // of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    low = lead == 0xE0 ? 0xA0 : 0x80;
    high = lead == 0xED ? 0x9F : 0xBF;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    low = lead == 0xF0 ? 0x90 : 0x80;
    high = lead == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + n > text.size() || byte(i + 1) < low || byte(i + 1) > high)
    return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
      return 0;
  return n;
}

// C0 controls, DEL, and C1 controls (U+0080..U+009F: some terminals act on them).
bool is_control(std::string_view text, size_t i, size_t n) noexcept {
  auto lead = static_cast<unsigned char>(text[i]);
  if (n == 1)
    return lead < 0x20 || lead == 0x7F;
  return n == 2 && lead == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
}

void append_escaped(std::string& out, std::string_view bytes) {
  for (auto c : bytes) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "\\x%02X", static_cast<unsigned char>(c));
    out += hex;
  }
}

} // namespace

std::optional<size_t> invalid_utf8_at(std::string_view text) noexcept {
  for (size_t i = 0; i < text.size();) {
    auto n = utf8_length(text, i);
    if (n == 0)
      return i;
    i += n;
  }
  return std::nullopt;
}

size_t json_nesting(std::string_view text, size_t stop_above) noexcept {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (auto c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > stop_above)
        break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string printable(std::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    auto n = utf8_length(text, i);
    auto unit = text.substr(i, n == 0 ? 1 : n);
    if (n == 0 || is_control(text, i, n))
      append_escaped(out, unit);
    else
      out += unit;
    i += unit.size();
  }
  return out;
}

} // namespace gasched::run
