// Names of the running schedulers of each actor system (find_scheduler).
// Weak entries: a name never keeps its scheduler alive. Keyed by the actor
// system, so each system has its own names. Not CAF's registry: in CAF 0.17
// it names actors by atom (10 characters at most), and a scheduler's name is
// any string; nor does it let a name be claimed before its actor exists,
// which spawn_scheduler needs to refuse a duplicate before it starts one.
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

namespace gasched::detail {

/// Claims `name` in `sys`; false if a running (or starting) scheduler has it.
bool claim_name(caf::actor_system& sys, const std::string& name);

/// Points a claimed name at its scheduler.
void bind_name(caf::actor_system& sys, const std::string& name, caf::actor_addr addr);

/// Gives the name back if `owner` (or nobody yet) holds it.
void release_name(caf::actor_system& sys, const std::string& name,
                  const caf::actor_addr& owner);

caf::actor lookup_name(caf::actor_system& sys, const std::string& name);

} // namespace gasched::detail
