// Text that came from outside (a task file, a node): checked before a
// parser or a recursive conversion sees it, and made safe to show.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gasched::run {

/// The offset of the first byte that is not part of valid UTF-8 (overlong
/// forms, surrogates and code points beyond U+10FFFF included), or nullopt.
std::optional<size_t> invalid_utf8_at(std::string_view text) noexcept;

/// How deeply JSON brackets ([ and {) nest in `text`, strings skipped; the
/// scan stops once it passes `stop_above`. Linear, no recursion: safe on any
/// input, however deep.
size_t json_nesting(std::string_view text, size_t stop_above) noexcept;

/// `text` fit for a terminal and a JSON string: control characters and bytes
/// that are not valid UTF-8 become \xNN, and the result is cut to about
/// `max_bytes` (with "...") on a character boundary.
std::string printable(std::string_view text, size_t max_bytes = 200);

/// A JSON document as text that never throws on the strings it carries:
/// invalid UTF-8 (from a node, a result, a file) becomes U+FFFD.
template <class Json>
std::string dump_safely(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

} // namespace gasched::run
