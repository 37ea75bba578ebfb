// What this process's threads do, from /proc: which exist, and how often
// each was switched out (woke up, slept, or was preempted). A thread
// blocked on a condition variable is never switched: counting switches
// over an idle spell tells a sleeping thread from a polling one, on a
// loaded machine as on an idle one.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

namespace gasched::testing {

/// The ids of this process's threads now.
inline std::set<pid_t> thread_ids() {
  std::set<pid_t> result;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* e = readdir(dir))
      if (auto tid = std::atoi(e->d_name); tid > 0)
        result.insert(tid);
    closedir(dir);
  }
  return result;
}

/// Voluntary and involuntary context switches of thread `tid` so far (0
/// once it has ended).
inline uint64_t context_switches(pid_t tid) {
  std::ifstream in{"/proc/self/task/" + std::to_string(tid) + "/status"};
  uint64_t total = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("ctxt_switches:") != std::string::npos)
      total += std::strtoull(line.substr(line.find(':') + 1).c_str(), nullptr, 10);
  return total;
}

inline uint64_t context_switches(const std::set<pid_t>& tids) {
  uint64_t total = 0;
  for (auto tid : tids)
    total += context_switches(tid);
  return total;
}

} // namespace gasched::testing
