#include "event_job/event_aggregate.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace gasched::events {

namespace {

template <class T>
void unite(std::set<T>& into, const std::set<T>& from) {
  into.insert(from.begin(), from.end());
}

} // namespace

size_t stage_index(std::string_view name) noexcept {
  for (size_t i = 0; i < stage_count; ++i)
    if (name == stage_names[i])
      return i;
  return stage_count;
}

std::set<uint32_t> game_totals::players() const {
  std::set<uint32_t> all;
  for (auto& [day, ids] : active_by_day)
    unite(all, ids);
  return all;
}

void game_totals::merge(const game_totals& other) {
  events += other.events;
  sessions += other.sessions;
  purchases += other.purchases;
  revenue_cents += other.revenue_cents;
  for (auto& [day, ids] : other.active_by_day)
    unite(active_by_day[day], ids);
  for (size_t i = 0; i < stage_count; ++i)
    unite(reached[i], other.reached[i]);
}

bool game_totals::operator==(const game_totals& other) const {
  return events == other.events && sessions == other.sessions
         && purchases == other.purchases && revenue_cents == other.revenue_cents
         && active_by_day == other.active_by_day && reached == other.reached;
}

namespace {

// The fields of one event, read with nlohmann's SAX interface: no document
// is built, which makes parsing about twice as fast as json::parse.
struct event_fields : nlohmann::json_sax<nlohmann::json> {
  enum field { none, ts, game, player, type, stage, amount };
  int depth = 0;
  field current = none;
  bool root_is_object = false;
  bool has_ts = false, has_player = false, has_amount = false;
  bool bad_type = false;  // a known field with a value of the wrong type
  int64_t ts_value = 0;
  uint64_t player_value = 0, amount_value = 0;
  std::string game_value, type_value, stage_value;
  bool has_game = false, has_type = false, has_stage = false;

  void reset() {
    depth = 0;
    current = none;
    root_is_object = has_ts = has_player = has_amount = bad_type = false;
    has_game = has_type = has_stage = false;
  }

  bool scalar() {
    if (current != none)
      bad_type = true;  // e.g. "player": null
    current = none;
    return true;
  }
  bool null() override {
    return scalar();
  }
  bool boolean(bool) override {
    return scalar();
  }
  bool number_integer(number_integer_t x) override {
    if (current == ts) {
      ts_value = x;
      has_ts = true;
      current = none;
      return true;
    }
    return scalar();  // negative players and amounts are wrong
  }
  bool number_unsigned(number_unsigned_t x) override {
    switch (current) {
      case ts:
        if (x > static_cast<uint64_t>(INT64_MAX))
          return scalar();
        ts_value = static_cast<int64_t>(x);
        has_ts = true;
        break;
      case player:
        player_value = x;
        has_player = true;
        break;
      case amount:
        amount_value = x;
        has_amount = true;
        break;
      default:
        return scalar();
    }
    current = none;
    return true;
  }
  bool number_float(number_float_t, const string_t&) override {
    return scalar();
  }
  bool string(string_t& x) override {
    switch (current) {
      case game:
        game_value.swap(x);
        has_game = true;
        break;
      case type:
        type_value.swap(x);
        has_type = true;
        break;
      case stage:
        stage_value.swap(x);
        has_stage = true;
        break;
      default:
        return scalar();
    }
    current = none;
    return true;
  }
  bool binary(binary_t&) override {
    return scalar();
  }
  bool start_object(std::size_t) override {
    if (depth == 0)
      root_is_object = true;
    else
      scalar();  // a nested value under a known key is the wrong type
    ++depth;
    return true;
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth > 0)
      scalar();
    ++depth;
    return true;
  }
  bool end_array() override {
    --depth;
    return true;
  }
  bool key(string_t& k) override {
    current = none;
    if (depth != 1)
      return true;
    if (k == "ts")
      current = ts;
    else if (k == "game")
      current = game;
    else if (k == "player")
      current = player;
    else if (k == "type")
      current = type;
    else if (k == "stage")
      current = stage;
    else if (k == "amount_cents")
      current = amount;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }
};

} // namespace

void aggregate::add_line(std::string_view line) {
  if (line.empty())
    return;
  // Events are JSON objects: {"ts":..,"game":"..","player":..,"type":"..",...}.
  // A line that is not one, or lacks a field its type needs, is counted as
  // malformed and skipped: real event streams carry some junk, and one bad
  // line must not fail a batch.
  thread_local event_fields e;
  e.reset();
  bool parsed = nlohmann::json::sax_parse(line.begin(), line.end(), &e);
  if (!parsed || !e.root_is_object || e.bad_type || !e.has_ts || !e.has_game
      || !e.has_player || !e.has_type || e.player_value > UINT32_MAX) {
    ++malformed;
    return;
  }
  size_t stage = stage_count;
  if (e.type_value == "progress"
      && (!e.has_stage || (stage = stage_index(e.stage_value)) == stage_count)) {
    ++malformed;
    return;
  }
  if (e.type_value == "purchase" && (!e.has_amount || e.amount_value > INT64_MAX)) {
    ++malformed;
    return;
  }
  // Days are UTC days; floor division keeps timestamps before 1970 right.
  auto day = static_cast<int32_t>(e.ts_value >= 0 ? e.ts_value / 86400
                                                  : (e.ts_value - 86399) / 86400);
  auto& g = games[e.game_value];
  auto player_id = static_cast<uint32_t>(e.player_value);
  ++events;
  ++g.events;
  g.active_by_day[day].insert(player_id);
  if (e.type_value == "session_start") {
    ++g.sessions;
  } else if (e.type_value == "progress") {
    g.reached[stage].insert(player_id);
  } else if (e.type_value == "purchase") {
    ++g.purchases;
    g.revenue_cents += static_cast<int64_t>(e.amount_value);
  }
}

void aggregate::merge(const aggregate& other) {
  batches += other.batches;
  events += other.events;
  malformed += other.malformed;
  for (auto& [name, totals] : other.games)
    games[name].merge(totals);
}

bool aggregate::operator==(const aggregate& other) const {
  return batches == other.batches && events == other.events
         && malformed == other.malformed && games == other.games;
}

aggregate aggregate_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  aggregate result;
  result.batches = 1;
  std::string line;
  while (std::getline(in, line))
    result.add_line(line);
  if (in.bad())
    throw std::runtime_error("error reading " + path);
  return result;
}

std::string first_difference(const aggregate& a, const aggregate& b) {
  std::ostringstream out;
  auto differ = [&out](const std::string& what, auto x, auto y) {
    out << what << ": " << x << " vs " << y;
  };
  if (a.batches != b.batches)
    differ("batches", a.batches, b.batches);
  else if (a.events != b.events)
    differ("events", a.events, b.events);
  else if (a.malformed != b.malformed)
    differ("malformed lines", a.malformed, b.malformed);
  else if (a.games.size() != b.games.size())
    differ("games", a.games.size(), b.games.size());
  else
    for (auto i = a.games.begin(), j = b.games.begin(); i != a.games.end(); ++i, ++j) {
      auto& [name, x] = *i;
      auto& y = j->second;
      if (name != j->first)
        differ("game", name, j->first);
      else if (x.events != y.events)
        differ(name + " events", x.events, y.events);
      else if (x.sessions != y.sessions)
        differ(name + " sessions", x.sessions, y.sessions);
      else if (x.purchases != y.purchases)
        differ(name + " purchases", x.purchases, y.purchases);
      else if (x.revenue_cents != y.revenue_cents)
        differ(name + " revenue (cents)", x.revenue_cents, y.revenue_cents);
      else if (x.active_by_day != y.active_by_day)
        out << name << " daily active players differ";
      else if (x.reached != y.reached)
        out << name << " funnel differs";
      else
        continue;
      break;
    }
  return out.str();
}

std::string day_label(int32_t day) {
  // Howard Hinnant's civil_from_days.
  int64_t z = int64_t{day} + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    ++y;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

} // namespace gasched::events
