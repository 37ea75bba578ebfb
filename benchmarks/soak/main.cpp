// gasched-soak: see soak.hpp. The first argument names the part a process
// plays; without one it is the driver (run `gasched-soak --help`).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "soak.hpp"

namespace gasched::soak {

const std::vector<std::string>& fault_kinds(bool standbys) {
  static const std::vector<std::string> kinds{
    "node-kill", "node-stop", "scheduler-stop", "cut", "delay", "loss-one-way",
    "client-kill", "scheduler-kill"};
  static const std::vector<std::string> with_takeover = [] {
    auto k = kinds;
    k.push_back("takeover");
    return k;
  }();
  return standbys ? with_takeover : kinds;
}

void append_line(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    std::cerr << "gasched-soak: cannot write a line: " << std::strerror(errno) << "\n";
}

int open_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    std::cerr << "gasched-soak: cannot open " << path << ": " << std::strerror(errno) << "\n";
  return fd;
}

} // namespace gasched::soak

int main(int argc, char** argv) {
  using namespace gasched::soak;
  if (argc > 1) {
    std::string part = argv[1];
    if (part == "scheduler")
      return run_scheduler(argc - 1, argv + 1);
    if (part == "node")
      return run_node(argc - 1, argv + 1);
    if (part == "client")
      return run_client(argc - 1, argv + 1);
  }
  return run_driver(argc, argv);
}
