// gasched-soak: a cluster of real processes on 127.0.0.1 under a seeded storm
// of faults, and a checker that accounts for every task from the files the
// processes write. One program plays every part (driver, scheduler, node,
// client) so that the driver starts copies of itself.
//
// Files of a run directory (one line per event, each written with one
// write(2) so that a kill never leaves half a line):
//   sub-CLIENT.txt   "S id tag kind" per acknowledged task, "C id" per acknowledged cancel
//   del-CLIENT.txt   "D id outcome" per result a client received, "E id code" when it gave up
//   results.txt      the scheduler's own client: "R id tag outcome"; at the end
//                    "A id tag outcome" (awaited from the journal), "U id" (unfinished),
//                    "X id" (the journal does not know it)
//   exec-PID.txt     "tag attempt node" per attempt a node started
//   faults.txt       "T kind target seconds" per fault injected, "T healed" at the end;
//                    with standbys also "T active NAME GENERATION" when the active
//                    changes, "T stepped-down NAME 0" when a replaced one exits
//   standbys.txt     the number of standby schedulers, when there are some
//   role-NAME.txt    a scheduler's role and generation, rewritten every 200 ms
//   samples.tsv      /proc figures of every process every 10 s
// An outcome is "ok VALUE" or "err CODE".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gasched::soak {

// The task kinds a client submits, and the outcome each must have.
//   w short work, l long work, y flaky (fails its first attempt),
//   f fails every attempt, p permanent failure, c cancelled after submission.
inline int64_t value_of(int64_t tag) { return tag * 7 + 1; }

// The fault kinds of the nemesis, in the order the report lists them; with
// standby schedulers, "takeover" too (the active stopped beyond its lease).
const std::vector<std::string>& fault_kinds(bool standbys = false);

// Options every part shares.
constexpr uint32_t max_retries = 3;
constexpr int heartbeat_timeout_ms = 1000;

int run_scheduler(int argc, char** argv);
int run_node(int argc, char** argv);
int run_client(int argc, char** argv);
int run_driver(int argc, char** argv);

struct verdict {
  bool pass = false;
  std::string report;  // markdown
};

/// Checks a run directory; `growth` also applies the no-growth rule after
/// minute 5 of each process life.
verdict check_dir(const std::string& dir, bool growth);

/// Appends `line` to the file at fd with one write(2).
void append_line(int fd, const std::string& line);
int open_append(const std::string& path);

} // namespace gasched::soak
