#include "gasched/errc.hpp"

#include <caf/sec.hpp>
#include <caf/to_string.hpp>

namespace gasched {

const char* to_string(errc x) noexcept {
  switch (x) {
    case errc::max_retries: return "max_retries";
    case errc::permanent_failure: return "permanent_failure";
    case errc::unknown_function: return "unknown_function";
    case errc::bad_arguments: return "bad_arguments";
    case errc::not_empty: return "not_empty";
    case errc::node_not_found: return "node_not_found";
    case errc::no_nodes_in_cluster: return "no_nodes_in_cluster";
    case errc::cancelled: return "cancelled";
    case errc::queue_full: return "queue_full";
    case errc::node_failures: return "node_failures";
    case errc::unknown_task: return "unknown_task";
    case errc::name_in_use: return "name_in_use";
    case errc::invalid_argument: return "invalid_argument";
    case errc::network_error: return "network_error";
    case errc::tls_error: return "tls_error";
    case errc::not_allowed: return "not_allowed";
    case errc::journal_error: return "journal_error";
    case errc::standby: return "standby";
  }
  return "unknown_error";
}

std::string describe(const caf::error& e) {
  if (!e)
    return "no error";
  if (e.category() != error_category)
    return caf::to_string(e);
  std::string result = "gasched::";
  result += to_string(static_cast<errc>(e.code()));
  auto& ctx = e.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    result += ": ";
    result += ctx.get_as<std::string>(0);
  } else if (!ctx.empty()) {
    result += ": ";
    result += caf::to_string(ctx);
  }
  return result;
}

} // namespace gasched
