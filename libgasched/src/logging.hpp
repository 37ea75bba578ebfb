// Internal: formats and emits a log line when its level is on.
#pragma once

#include <string>
#include <utility>

#include <fmt/format.h>

#include "gasched/log.hpp"

namespace gasched::detail {

bool log_enabled(log_level level) noexcept;
void log_line(log_level level, const std::string& text);

template <class... Ts>
void log(log_level level, fmt::format_string<Ts...> format, Ts&&... xs) {
  if (log_enabled(level))
    log_line(level, fmt::format(format, std::forward<Ts>(xs)...));
}

} // namespace gasched::detail
