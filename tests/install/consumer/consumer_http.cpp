// Links gasched::http alone: the JSON of /api/stats for an empty stats.
#include <gasched/http.hpp>

#include <cstdio>

int main() {
  std::printf("%s\n", gasched::stats_json(gasched::stats{}, 0).c_str());
}
