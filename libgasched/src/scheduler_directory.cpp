#include "scheduler_directory.hpp"

#include <map>
#include <mutex>
#include <utility>

#include <caf/actor_cast.hpp>

namespace gasched::detail {

namespace {

struct directory {
  std::mutex mtx;
  std::map<std::pair<caf::actor_system*, std::string>, caf::actor_addr> names;
};

directory& instance() {
  static directory dir;
  return dir;
}

} // namespace

bool claim_name(caf::actor_system& sys, const std::string& name) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  return dir.names.emplace(std::make_pair(&sys, name), caf::actor_addr{}).second;
}

void bind_name(caf::actor_system& sys, const std::string& name, caf::actor_addr addr) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  dir.names[std::make_pair(&sys, name)] = std::move(addr);
}

void release_name(caf::actor_system& sys, const std::string& name) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  dir.names.erase(std::make_pair(&sys, name));
}

caf::actor lookup_name(caf::actor_system& sys, const std::string& name) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  auto it = dir.names.find(std::make_pair(&sys, name));
  if (it == dir.names.end())
    return nullptr;
  return caf::actor_cast<caf::actor>(it->second);
}

} // namespace gasched::detail
