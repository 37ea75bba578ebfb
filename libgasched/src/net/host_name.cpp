#include "net/host_name.hpp"

#include <unistd.h>

namespace gasched::detail {

std::string host_name() {
  char name[256] = "localhost";
  if (gethostname(name, sizeof(name) - 1) != 0)
    return "localhost";
  name[sizeof(name) - 1] = '\0';  // POSIX leaves a truncated name unterminated
  return name;
}

} // namespace gasched::detail
