// A partial aggregate as it crosses process boundaries: what events.aggregate
// returns (and writes to its .part file), CBOR by nlohmann-json in a
// std::string, a type CAF serializes out of the box.
#pragma once

#include <string>
#include <string_view>

#include "event_job/event_aggregate.hpp"

namespace gasched::events {

/// The CBOR form: the counters, and per game its counters and sets of
/// player ids (sorted, delta-coded: most deltas take one byte).
std::string encode_partial(const aggregate& a);

/// The inverse of encode_partial(). The bytes come from another process, so
/// anything may arrive: throws std::invalid_argument saying what is wrong
/// and where (not CBOR, a missing or mistyped field, a number out of range,
/// player ids out of order), never anything else.
aggregate decode_partial(std::string_view bytes);

} // namespace gasched::events
