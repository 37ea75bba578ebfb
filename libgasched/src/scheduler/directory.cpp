#include "scheduler/directory.hpp"

#include <map>
#include <mutex>
#include <utility>

#include <caf/abstract_actor.hpp>
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

// A scheduler that stopped may not have released its name yet.
bool gone(const caf::actor& a) {
  return !a || caf::actor_cast<caf::abstract_actor*>(a)->getf(
                 caf::abstract_actor::is_terminated_flag);
}

} // namespace

bool claim_name(caf::actor_system& sys, const std::string& name) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  auto [it, added] = dir.names.emplace(std::make_pair(&sys, name), caf::actor_addr{});
  if (added)
    return true;
  if (!it->second || !gone(caf::actor_cast<caf::actor>(it->second)))
    return false;  // being spawned, or running
  it->second = caf::actor_addr{};
  return true;
}

void bind_name(caf::actor_system& sys, const std::string& name, caf::actor_addr addr) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  dir.names[std::make_pair(&sys, name)] = std::move(addr);
}

void release_name(caf::actor_system& sys, const std::string& name,
                  const caf::actor_addr& owner) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  auto it = dir.names.find(std::make_pair(&sys, name));
  if (it != dir.names.end() && (!it->second || it->second == owner))
    dir.names.erase(it);
}

caf::actor lookup_name(caf::actor_system& sys, const std::string& name) {
  auto& dir = instance();
  std::lock_guard<std::mutex> guard{dir.mtx};
  auto it = dir.names.find(std::make_pair(&sys, name));
  if (it == dir.names.end())
    return nullptr;
  auto result = caf::actor_cast<caf::actor>(it->second);
  return gone(result) ? nullptr : result;
}

} // namespace gasched::detail
