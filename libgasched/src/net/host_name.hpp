// Internal: this machine's name, as nodes name themselves by default and as
// programs say where they listen.
#pragma once

#include <string>

namespace gasched::detail {

/// gethostname(), or "localhost" when it fails.
std::string host_name();

} // namespace gasched::detail
