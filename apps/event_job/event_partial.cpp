#include "event_job/event_partial.hpp"

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "gasched_run/untrusted_text.hpp"

namespace gasched::events {

namespace {

using json = nlohmann::json;

// Tells a partial from any other CBOR document, and this layout from a
// later one.
constexpr const char* format_name = "gasched.events/2";

// The deepest a partial nests: root, games, a game, its days, a day, its ids.
constexpr int max_depth = 6;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::invalid_argument("bad partial aggregate: " + where + " " + what);
}

// from_cbor recurses once per level of nesting, with no limit: a few
// megabytes of nested arrays from a hostile node would overflow the stack.
// nlohmann's own DOM builder, behind a depth check.
class depth_limited_dom {
public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  explicit depth_limited_dom(json& root) : dom_(root, true) {
  }

  bool too_deep() const {
    return too_deep_;
  }

  bool null() {
    return dom_.null();
  }
  bool boolean(bool x) {
    return dom_.boolean(x);
  }
  bool number_integer(number_integer_t x) {
    return dom_.number_integer(x);
  }
  bool number_unsigned(number_unsigned_t x) {
    return dom_.number_unsigned(x);
  }
  bool number_float(number_float_t x, const string_t& text) {
    return dom_.number_float(x, text);
  }
  bool string(string_t& x) {
    return dom_.string(x);
  }
  bool binary(binary_t& x) {
    return dom_.binary(x);
  }
  bool start_object(std::size_t n) {
    return enter() && dom_.start_object(n);
  }
  bool key(string_t& x) {
    return dom_.key(x);
  }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    return enter() && dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t at, const std::string& token, const Exception& e) {
    return dom_.parse_error(at, token, e);  // throws e
  }

private:
  bool enter() {
    too_deep_ = ++depth_ > max_depth;
    return !too_deep_;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0;
  bool too_deep_ = false;
};

json parse_cbor(std::string_view bytes) {
  json doc;
  depth_limited_dom dom{doc};
  try {
    if (!json::sax_parse(bytes.begin(), bytes.end(), &dom, json::input_format_t::cbor))
      fail("document", dom.too_deep() ? "nests deeper than a partial does" : "is not CBOR");
  } catch (const json::exception& e) {
    fail("document", std::string{"is not CBOR: "} + e.what());
  }
  return doc;
}

const json& member(const json& object, const char* key, const std::string& where) {
  auto i = object.find(key);
  if (i == object.end())
    fail(where + "." + key, "is missing");
  return *i;
}

template <class T>
T integer(const json& value, const std::string& where) {
  static_assert(std::is_integral_v<T>);
  constexpr auto max = std::numeric_limits<T>::max();
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() <= static_cast<uint64_t>(max))
      return static_cast<T>(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    auto x = value.get<int64_t>();
    if constexpr (std::is_signed_v<T>)
      if (x >= std::numeric_limits<T>::min() && x <= max)
        return static_cast<T>(x);
  } else {
    fail(where, "is not an integer");
  }
  fail(where, "is out of range");
}

template <class T>
T integer_member(const json& object, const char* key, const std::string& where) {
  return integer<T>(member(object, key, where), where + "." + key);
}

// Sorted ids as first id, then deltas: most take one byte in CBOR.
json id_deltas(const std::set<uint32_t>& ids) {
  json out = json::array();
  out.get_ref<json::array_t&>().reserve(ids.size());
  uint32_t previous = 0;
  for (auto id : ids) {
    out.push_back(id - previous);
    previous = id;
  }
  return out;
}

std::set<uint32_t> ids_from_deltas(const json& deltas, const std::string& where) {
  if (!deltas.is_array())
    fail(where, "is not a list of player ids");
  std::set<uint32_t> ids;
  uint64_t id = 0;
  for (size_t i = 0; i < deltas.size(); ++i) {
    auto& delta = deltas[i];
    if (!delta.is_number_unsigned() || delta.get<uint64_t>() > UINT32_MAX)
      fail(where + "[" + std::to_string(i) + "]", "is not a player id delta");
    if (i > 0 && delta.get<uint64_t>() == 0)
      fail(where, "lists a player twice");
    id += delta.get<uint64_t>();
    if (id > UINT32_MAX)
      fail(where, "has a player id beyond 32 bits");
    ids.insert(ids.end(), static_cast<uint32_t>(id));
  }
  return ids;
}

json game_to_json(const game_totals& g) {
  json days = json::array();
  for (auto& [day, ids] : g.active_by_day)
    days.push_back(json::array({day, id_deltas(ids)}));
  json reached = json::array();
  for (auto& ids : g.reached)
    reached.push_back(id_deltas(ids));
  return json{{"events", g.events},   {"sessions", g.sessions},
              {"purchases", g.purchases}, {"revenue_cents", g.revenue_cents},
              {"active_by_day", std::move(days)}, {"reached", std::move(reached)}};
}

void read_days(const json& days, const std::string& where, game_totals& g) {
  if (!days.is_array())
    fail(where, "is not a list of days");
  for (size_t i = 0; i < days.size(); ++i) {
    auto at = where + "[" + std::to_string(i) + "]";
    auto& entry = days[i];
    if (!entry.is_array() || entry.size() != 2)
      fail(at, "is not a [day, player ids] pair");
    auto day = integer<int32_t>(entry[0], at + "[0]");
    if (!g.active_by_day.emplace(day, ids_from_deltas(entry[1], at + "[1]")).second)
      fail(at, "repeats day " + std::to_string(day));
  }
}

game_totals game_from_json(const json& v, const std::string& where) {
  if (!v.is_object())
    fail(where, "is not an object");
  game_totals g;
  g.events = integer_member<uint64_t>(v, "events", where);
  g.sessions = integer_member<uint64_t>(v, "sessions", where);
  g.purchases = integer_member<uint64_t>(v, "purchases", where);
  g.revenue_cents = integer_member<int64_t>(v, "revenue_cents", where);
  read_days(member(v, "active_by_day", where), where + ".active_by_day", g);
  auto& reached = member(v, "reached", where);
  if (!reached.is_array() || reached.size() != stage_count)
    fail(where + ".reached", "is not a list of " + std::to_string(stage_count) + " stages");
  for (size_t i = 0; i < stage_count; ++i)
    g.reached[i] = ids_from_deltas(reached[i], where + ".reached." + stage_names[i]);
  return g;
}

} // namespace

std::string encode_partial(const aggregate& a) {
  json games = json::object();
  for (auto& [name, g] : a.games)
    games[name] = game_to_json(g);
  json doc{{"format", format_name},
           {"batches", a.batches},
           {"events", a.events},
           {"malformed", a.malformed},
           {"games", std::move(games)}};
  std::string out;
  json::to_cbor(doc, out);
  return out;
}

aggregate decode_partial(std::string_view bytes) {
  auto doc = parse_cbor(bytes);
  if (!doc.is_object())
    fail("document", "is not a partial aggregate");
  auto format = doc.find("format");
  if (format == doc.end() || *format != format_name)
    fail("document", std::string{"is not a partial aggregate (no \"format\": \""} + format_name
                       + "\")");
  const std::string root = "partial";
  aggregate a;
  a.batches = integer_member<uint64_t>(doc, "batches", root);
  a.events = integer_member<uint64_t>(doc, "events", root);
  a.malformed = integer_member<uint64_t>(doc, "malformed", root);
  auto& games = member(doc, "games", root);
  if (!games.is_object())
    fail(root + ".games", "is not an object");
  for (auto& [name, g] : games.items())
    a.games.emplace(name, game_from_json(g, root + ".games[" + run::printable(name, 40) + "]"));
  return a;
}

} // namespace gasched::events
