// Options of a scheduler (scheduler_options.hpp) and of a node
// (node_options.hpp), both.
#pragma once

#include "gasched/node_options.hpp"
#include "gasched/scheduler_options.hpp"
