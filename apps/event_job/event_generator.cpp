#include "event_job/event_generator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

#include "event_job/event_aggregate.hpp"

namespace gasched::events {

namespace {

// splitmix64: tiny, fast, and the same on every platform (std::
// distributions are not), so a seed means the same files everywhere.
class rng {
public:
  explicit rng(uint64_t seed) : state_(seed) {
  }

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  double uniform() {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

  uint32_t below(uint32_t n) {
    return static_cast<uint32_t>(uniform() * n);
  }

  bool chance(double p) {
    return uniform() < p;
  }

private:
  uint64_t state_;
};

uint64_t mix(uint64_t a, uint64_t b) {
  return rng{a * 0x100000001b3ULL ^ b}.next();
}

constexpr int64_t first_day = 19723;  // 2024-01-01 in days since 1970-01-01
constexpr int64_t day_seconds = 86400;

constexpr std::array<const char*, 12> game_slugs{
  "space-miners", "farm-frenzy",  "castle-clash",  "puzzle-pop",
  "racing-rivals", "word-wizard", "zombie-dash",   "tower-tactics",
  "ocean-quest",  "candy-cascade", "sky-pirates",  "dungeon-dice"};

constexpr std::array<const char*, 5> design_events{
  "ui:shop:open", "ui:settings", "level:retry", "ad:rewarded", "social:share"};

struct item {
  const char* name;
  uint32_t cents;
};
constexpr std::array<item, 5> items{{{"gems_small", 99},
                                     {"starter_pack", 199},
                                     {"gems_medium", 499},
                                     {"vip_month", 999},
                                     {"gems_large", 1999}}};

enum class kind : uint8_t { session_start, session_end, design, progress, purchase };

struct event {
  int64_t ts;
  uint32_t seq;     // generation order: ties in ts keep a fixed order
  uint32_t player;
  uint16_t game;
  kind type;
  uint8_t detail;   // design event, stage or item index
  uint32_t seconds; // session length, for session_end
};

std::string game_name(uint32_t g) {
  std::string name = game_slugs[g % game_slugs.size()];
  if (g >= game_slugs.size())
    name += "-" + std::to_string(g / game_slugs.size() + 1);
  return name;
}

// One player's days: joins on some day, comes back less and less (unless
// loyal), plays a few sessions a day, advances through the funnel at a pace
// set by skill, and, for a few, buys things.
void simulate_player(const dataset_spec& spec, uint32_t g, uint32_t p,
                     std::vector<event>& out) {
  rng r{mix(mix(spec.seed, g), p)};
  auto player = p + 1;
  auto join_day = r.below(spec.days);
  bool loyal = r.chance(0.2);
  double skill = r.uniform();
  bool payer = r.chance(0.07);
  int stage = -1;
  auto emit = [&](int64_t ts, kind type, uint8_t detail = 0, uint32_t seconds = 0) {
    out.push_back(event{ts, static_cast<uint32_t>(out.size()), player,
                        static_cast<uint16_t>(g), type, detail, seconds});
  };
  for (auto d = join_day; d < spec.days; ++d) {
    double comeback = loyal ? 0.65 : 0.5 * std::pow(0.8, d - join_day - 1.0);
    if (d != join_day && !r.chance(comeback))
      continue;
    auto sessions = 1 + r.chance(0.45) + r.chance(0.2);
    for (int s = 0; s < sessions; ++s) {
      // Sessions end before midnight: a session belongs to one day.
      int64_t start = (first_day + d) * day_seconds + r.below(day_seconds - 3600);
      auto length = 60 + r.below(1740);
      emit(start, kind::session_start);
      for (auto n = 1 + r.below(5); n > 0; --n)
        emit(start + r.below(length), kind::design,
             static_cast<uint8_t>(r.below(design_events.size())));
      if (stage + 1 < static_cast<int>(stage_count)
          && r.chance(stage < 0 ? 0.9 : 0.15 + 0.45 * skill))
        emit(start + r.below(length), kind::progress, static_cast<uint8_t>(++stage));
      if (payer && r.chance(0.3))
        emit(start + r.below(length), kind::purchase,
             static_cast<uint8_t>(r.below(items.size())));
      emit(start + length, kind::session_end, 0, length);
    }
  }
}

void format_event(fmt::memory_buffer& buf, const event& e,
                  const std::vector<std::string>& names) {
  auto out = std::back_inserter(buf);
  fmt::format_to(out, R"({{"ts":{},"game":"{}","player":{},"type":")", e.ts,
                 names[e.game], e.player);
  switch (e.type) {
    case kind::session_start:
      fmt::format_to(out, R"(session_start"}})");
      break;
    case kind::session_end:
      fmt::format_to(out, R"(session_end","seconds":{}}})", e.seconds);
      break;
    case kind::design:
      fmt::format_to(out, R"(design","event":"{}"}})", design_events[e.detail]);
      break;
    case kind::progress:
      fmt::format_to(out, R"(progress","stage":"{}"}})", stage_names[e.detail]);
      break;
    case kind::purchase:
      fmt::format_to(out, R"(purchase","item":"{}","amount_cents":{},"currency":"USD"}})",
                     items[e.detail].name, items[e.detail].cents);
      break;
  }
}

} // namespace

dataset generate(const dataset_spec& spec, const std::string& dir,
                 const std::function<bool()>& stop) {
  if (spec.games == 0 || spec.players == 0 || spec.days == 0 || spec.batches == 0)
    throw std::invalid_argument("games, players, days and batches must be positive");
  std::vector<event> events;
  for (uint32_t g = 0; g < spec.games; ++g)
    for (uint32_t p = 0; p < spec.players; ++p)
      simulate_player(spec, g, p, events);
  // Batches are slices of time, as an event collector cuts them.
  std::sort(events.begin(), events.end(), [](const event& a, const event& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
  });
  std::vector<std::string> names;
  for (uint32_t g = 0; g < spec.games; ++g)
    names.push_back(game_name(g));
  std::filesystem::create_directories(dir);
  dataset result;
  auto total = events.size();
  fmt::memory_buffer buf;
  for (uint32_t b = 0; b < spec.batches; ++b) {
    if (stop && stop())
      break;
    auto first = total * b / spec.batches;
    auto last = total * (b + 1) / spec.batches;
    rng damage{mix(spec.seed ^ 0x6a756e6bULL, b)};
    buf.clear();
    for (auto i = first; i < last; ++i) {
      auto line_start = buf.size();
      format_event(buf, events[i], names);
      if (damage.chance(1.0 / 5000)) {
        // A truncated line, as a crashed writer leaves.
        buf.resize(line_start + (buf.size() - line_start) / 2);
        ++result.malformed;
      }
      buf.push_back('\n');
    }
    auto path = fmt::format("{}/batch-{:04}.jsonl", dir, b + 1);
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (!out)
      throw std::runtime_error("cannot write " + path);
    result.lines += last - first;
    result.bytes += buf.size();
    result.batch_files.push_back(std::move(path));
  }
  return result;
}

} // namespace gasched::events
