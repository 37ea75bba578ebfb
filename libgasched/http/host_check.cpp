#include "http/host_check.hpp"

#include <algorithm>
#include <cctype>

namespace gasched::detail::http {

std::string host_part(const std::string& text) {
  std::string h;
  if (!text.empty() && text.front() == '[') {
    auto end = text.find(']');
    h = text.substr(1, end == std::string::npos ? std::string::npos : end - 1);
  } else if (auto colon = text.find(':'); colon != std::string::npos
                                          && colon == text.rfind(':')) {
    h = text.substr(0, colon);  // name:port; more colons: an IPv6 address
  } else {
    h = text;
  }
  if (auto zone = h.find('%'); zone != std::string::npos)
    h.resize(zone);
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (h.rfind("::ffff:", 0) == 0 && h.find('.') != std::string::npos)
    h.erase(0, 7);  // an IPv4 client of an IPv6 socket
  return h;
}

host_check::host_check(const std::string& bound, const std::vector<std::string>& names)
  : allowed_{"localhost", "127.0.0.1", "::1"} {
  auto b = host_part(bound);
  if (!b.empty() && b != "0.0.0.0" && b != "::")
    allowed_.insert(b);
  for (auto& n : names)
    if (auto h = host_part(n); !h.empty())
      allowed_.insert(h);
}

bool host_check::allows(const std::string& host_header, const std::string& local_addr) const {
  if (host_header.empty())
    return true;
  auto h = host_part(host_header);
  // An address of this machine is never a rebinding: that needs a name.
  return allowed_.count(h) > 0 || (!local_addr.empty() && h == host_part(local_addr));
}

} // namespace gasched::detail::http
