// Internal: the dashboard page, one self-contained HTML document (generated
// from dashboard.html at build time).
#pragma once

#include <string>

namespace gasched::detail::http {

const std::string& dashboard_html();

} // namespace gasched::detail::http
