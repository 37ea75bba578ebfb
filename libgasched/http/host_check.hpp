// Internal: which Host headers the endpoint answers (DNS rebinding defence).
// A page of another site can point its own name at this address; the
// browser then lets it read the answers, but sends its name as the Host.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace gasched::detail::http {

/// The host of a Host header or address: without port or brackets, lower
/// case ("[::1]:80" -> "::1"; "::ffff:10.0.0.1" -> "10.0.0.1").
std::string host_part(const std::string& text);

class host_check {
public:
  /// Allows localhost, 127.0.0.1 and ::1, `bound` (unless a wildcard
  /// address) and `names` ("name" or "name:port").
  host_check(const std::string& bound, const std::vector<std::string>& names);

  /// Whether a request with this Host header, which came in at `local_addr`,
  /// is served. No header passes: browsers always send one.
  bool allows(const std::string& host_header, const std::string& local_addr) const;

private:
  std::set<std::string> allowed_;
};

} // namespace gasched::detail::http
