// gasched-bench's scenarios, one file each; main.cpp runs those --only names.
#pragma once

#include "bench.hpp"

namespace gasched::bench {

void throughput(context& c);  // identity tasks, default and fixed prefetch; 5 ms tasks
void latency(context& c);     // sequential round trips, and CAF's own as the floor
void memory(context& c);      // bytes per pending task, enqueue rate
void scaling(context& c);     // the scheduler's time per task with many nodes
void failover(context& c);    // kill -9, kill -STOP, a cut link healed
void journal(context& c);     // journal on and off, resume
void dashboard(context& c);   // the HTTP endpoint with a page open, beside none
void tls(context& c);         // mutual TLS beside plain: throughput, latency
void core(context& c);        // gasched-core-bench's figures
void idle(context& c);        // CPU per idle minute: gasched-run --serve, gasched-node, a library app
void many_nodes(context& c);  // 1,000 node actors from a few processes, 1M tasks exactly once
void remote(context& c);      // a --connect client beside the same file run locally

} // namespace gasched::bench
