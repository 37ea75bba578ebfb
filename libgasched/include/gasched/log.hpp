// gasched's one logging facility: levels, and a sink the application may
// replace to route gasched's lines into its own logger.
//
// Process-wide on purpose: a line is written from CAF's threads, the task
// pool's threads and the journal's writer, where no actor system is at hand,
// and a process's log is one stream whatever number of actor systems it runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace gasched {

enum class log_level : uint8_t { off, error, warning, info, debug };

/// Lines above this level are dropped. Default: warning, or the value of the
/// GASCHED_LOG environment variable (off, error, warning, info, debug).
void set_log_level(log_level level) noexcept;
log_level get_log_level() noexcept;

/// "off", "error", "warning", "info", "debug"; false for anything else.
bool parse_log_level(const std::string& text, log_level& out) noexcept;

/// Receives each line that passes the level. Default: stderr, as
/// "gasched <level>: <text>". Pass an empty function to restore the default.
using log_sink = std::function<void(log_level, const std::string&)>;
void set_log_sink(log_sink sink);

} // namespace gasched
