// gasched: schedules tasks across a cluster of nodes and gets each one done,
// even when nodes die. One header for all of it.
#pragma once

#include "gasched/active_search.hpp"
#include "gasched/atoms.hpp"
#include "gasched/blocking_client.hpp"
#include "gasched/errc.hpp"
#include "gasched/init.hpp"
#include "gasched/log.hpp"
#include "gasched/net.hpp"
#include "gasched/node.hpp"
#include "gasched/node_options.hpp"
#include "gasched/options.hpp"
#include "gasched/registry.hpp"
#include "gasched/scheduler.hpp"
#include "gasched/scheduler_actor.hpp"
#include "gasched/scheduler_options.hpp"
#include "gasched/stats.hpp"
#include "gasched/task.hpp"
#include "gasched/this_task.hpp"
#include "gasched/tls.hpp"
