// The scheduling core must stay free of actors: it is tested, and read,
// without them. This header stands in for CAF's <caf/actor_system_config.hpp> in the
// core's build only (see libgasched/CMakeLists.txt).
#error "the core (libgasched/src/core) must not include caf/actor_system_config.hpp"
