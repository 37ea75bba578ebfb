// gasched-ctl's text: a scheduler's stats as a table a person reads at a glance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gasched/stats.hpp"
#include "number_text.hpp"

namespace gasched::ctl {

/// The table for `s`, taken at `unix_ms` from the scheduler at `address`;
/// `rate` (tasks finished per second since the previous look) when known.
std::string status_table(const stats& s, const std::string& address, int64_t unix_ms,
                         std::optional<double> rate);

} // namespace gasched::ctl
