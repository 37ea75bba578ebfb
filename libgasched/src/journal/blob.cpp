#include "journal/blob.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/make_message.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "gasched/errc.hpp"

namespace gasched::detail {

namespace {

// How CAF 0.17 writes the empty message: type number 0, then the type
// token "@<>" with its length.
constexpr char empty_message[] = {0, 0, 3, '@', '<', '>'};

caf::error bad_bytes(const void* data, size_t size, const char* what) {
  auto types = blob_types(data, size);
  return make_error(errc::journal_error,
                    std::string{"cannot read "} + what
                      + (types.empty() ? std::string{": the bytes are damaged"}
                                       : " of types " + types
                                           + ": a type not added to this actor system "
                                             "(cfg.add_message_type), or damaged bytes"));
}

// A message of one or two integers, the common arguments and values, in
// CAF's bytes without CAF's serializer (which builds the type token and an
// error per call: most of the journal's cost on the scheduler's thread). The
// layout of each combination of types is learned once from CAF itself and
// checked with two probes; a combination that does not fit uses CAF.
class int_layouts {
public:
  /// Appends x's bytes: true; false when x is not such a message.
  bool append(caf::actor_system& sys, const caf::message& x, std::vector<char>& buf) {
    auto n = x.size();
    if (n == 0 || n > 2)
      return false;
    uint16_t nrs[2] = {0, 0};
    for (size_t i = 0; i < n; ++i)
      if (size_of(nrs[i] = x.type(i).first) == 0)
        return false;
    auto& l = find(sys, nrs);
    if (!l.ok)
      return false;
    // Grown once, written in place: no capacity check per byte.
    auto at = buf.size();
    buf.resize(at + l.prefix.size() + size_of(nrs[0]) + size_of(nrs[1]));
    auto out = std::copy(l.prefix.begin(), l.prefix.end(), buf.begin() + static_cast<long>(at));
    for (size_t i = 0; i < n; ++i)
      out = write(out, bits(x, i, nrs[i]), size_of(nrs[i]), l.big_endian);
    return true;
  }

private:
  struct layout {
    uint16_t nrs[2];
    bool ok = false;
    bool big_endian = false;
    std::vector<char> prefix;
  };

  static size_t size_of(uint16_t nr) {
    using caf::type_nr;
    if (nr == type_nr<int8_t>::value || nr == type_nr<uint8_t>::value)
      return 1;
    if (nr == type_nr<int16_t>::value || nr == type_nr<uint16_t>::value)
      return 2;
    if (nr == type_nr<int32_t>::value || nr == type_nr<uint32_t>::value)
      return 4;
    if (nr == type_nr<int64_t>::value || nr == type_nr<uint64_t>::value)
      return 8;
    return 0;
  }

  static uint64_t bits(const caf::message& x, size_t i, uint16_t nr) {
    auto p = x.get(i);
    switch (size_of(nr)) {
      case 1: return *static_cast<const uint8_t*>(p);
      case 2: return *static_cast<const uint16_t*>(p);
      case 4: return *static_cast<const uint32_t*>(p);
      default: return *static_cast<const uint64_t*>(p);
    }
  }

  template <class Out>
  static Out write(Out out, uint64_t v, size_t size, bool big_endian) {
    for (size_t b = 0; b < size; ++b) {
      auto shift = 8 * (big_endian ? size - 1 - b : b);
      *out++ = static_cast<char>((v >> shift) & 0xff);
    }
    return out;
  }

  static void put(std::vector<char>& buf, uint64_t v, size_t size, bool big_endian) {
    write(std::back_inserter(buf), v, size, big_endian);
  }

  // A message of these types whose every value is `pattern`'s low bytes.
  static caf::message probe(const uint16_t* nrs, uint64_t pattern) {
    auto one = [&](uint16_t nr) -> caf::message {
      using caf::type_nr;
      if (nr == type_nr<int8_t>::value) return caf::make_message(static_cast<int8_t>(pattern));
      if (nr == type_nr<uint8_t>::value) return caf::make_message(static_cast<uint8_t>(pattern));
      if (nr == type_nr<int16_t>::value) return caf::make_message(static_cast<int16_t>(pattern));
      if (nr == type_nr<uint16_t>::value)
        return caf::make_message(static_cast<uint16_t>(pattern));
      if (nr == type_nr<int32_t>::value) return caf::make_message(static_cast<int32_t>(pattern));
      if (nr == type_nr<uint32_t>::value)
        return caf::make_message(static_cast<uint32_t>(pattern));
      if (nr == type_nr<int64_t>::value) return caf::make_message(static_cast<int64_t>(pattern));
      return caf::make_message(static_cast<uint64_t>(pattern));
    };
    return nrs[1] == 0 ? one(nrs[0]) : caf::message::concat(one(nrs[0]), one(nrs[1]));
  }

  static bool learn(caf::actor_system& sys, layout& l) {
    // Two probes: the values' bytes must come last, in one order, after a
    // prefix that does not depend on them.
    std::vector<char> a, b;
    const uint64_t pa = 0x0102030405060708ull, pb = 0xa1b2c3d4e5f60718ull;
    auto ma = probe(l.nrs, pa);
    auto mb = probe(l.nrs, pb);
    caf::binary_serializer sink_a{sys, a};
    caf::binary_serializer sink_b{sys, b};
    if (sink_a(ma) || sink_b(mb))
      return false;
    size_t values = size_of(l.nrs[0]) + size_of(l.nrs[1]);
    if (a.size() != b.size() || a.size() < values)
      return false;
    auto at = a.size() - values;
    l.prefix.assign(a.begin(), a.begin() + static_cast<long>(at));
    if (!std::equal(l.prefix.begin(), l.prefix.end(), b.begin()))
      return false;
    for (auto big : {true, false}) {
      std::vector<char> ta = l.prefix, tb = l.prefix;
      for (auto nr : l.nrs)
        if (nr != 0) {
          put(ta, pa, size_of(nr), big);
          put(tb, pb, size_of(nr), big);
        }
      if (ta == a && tb == b) {
        l.big_endian = big;
        return true;
      }
    }
    return false;
  }

  layout& find(caf::actor_system& sys, const uint16_t* nrs) {
    auto same = [&](const layout& l) { return l.nrs[0] == nrs[0] && l.nrs[1] == nrs[1]; };
    if (last_ < known_.size() && same(known_[last_]))
      return known_[last_];  // mostly: the same types as the last message
    for (last_ = 0; last_ < known_.size(); ++last_)
      if (same(known_[last_]))
        return known_[last_];
    layout l;
    l.nrs[0] = nrs[0];
    l.nrs[1] = nrs[1];
    l.ok = learn(sys, l);
    known_.push_back(std::move(l));
    return known_.back();
  }

  std::vector<layout> known_;  // few: one per combination of types seen
  size_t last_ = 0;            // the one found last
};

} // namespace

bool append_int_blob(caf::actor_system& sys, const caf::message& x, std::vector<char>& buf) {
  // Per thread: each scheduler appends on its own actor's thread.
  thread_local int_layouts layouts;
  return layouts.append(sys, x, buf);
}

caf::error append_blob(caf::actor_system& sys, const caf::message& x, std::vector<char>& buf) {
  if (append_int_blob(sys, x, buf))
    return caf::none;
  // A type the actor system cannot name: refused before CAF logs to stderr.
  auto& types = sys.types();
  for (size_t i = 0; i < x.size(); ++i)
    if (auto t = x.type(i); t.first == 0 && types.portable_name(t) == types.default_type_name())
      return make_error(errc::journal_error,
                        std::string{"cannot serialize a message: its type "} + t.second->name()
                          + " was not added to the actor system (cfg.add_message_type)");
  auto before = buf.size();
  caf::binary_serializer sink{sys, buf};
  auto err = sink(const_cast<caf::message&>(x));
  if (!err && buf.size() == before)
    err = make_error(errc::journal_error,
                     "cannot serialize a message: one of its types was not added to the "
                     "actor system (cfg.add_message_type)");
  if (err)
    buf.resize(before);
  return err;
}

caf::error append_blob(caf::actor_system& sys, const caf::error& x, std::vector<char>& buf) {
  auto before = buf.size();
  caf::binary_serializer sink{sys, buf};
  auto err = sink(const_cast<caf::error&>(x));
  if (err)
    buf.resize(before);
  return err;
}

caf::error load_blob(caf::actor_system& sys, const void* data, size_t size, caf::message& x) {
  caf::binary_deserializer source{sys, static_cast<const char*>(data), size};
  x = caf::message{};
  auto err = source(x);
  auto is_empty = size == sizeof(empty_message)
                  && std::memcmp(data, empty_message, size) == 0;
  if (err || source.remaining() != 0 || (x.empty() && !is_empty))
    return bad_bytes(data, size, "a message");
  return caf::none;
}

caf::error load_blob(caf::actor_system& sys, const void* data, size_t size, caf::error& x) {
  caf::binary_deserializer source{sys, static_cast<const char*>(data), size};
  x = caf::error{};
  if (source(x) || source.remaining() != 0)
    return bad_bytes(nullptr, 0, "an error");
  return caf::none;
}

std::string blob_types(const void* data, size_t size) {
  // Type number (2 bytes), then the token as a varint length and its text.
  auto bytes = static_cast<const unsigned char*>(data);
  if (bytes == nullptr || size < 3)
    return {};
  size_t pos = 2, len = 0;
  for (int shift = 0; pos < size && shift < 28; shift += 7) {
    len |= size_t{bytes[pos] & 0x7fu} << shift;
    if ((bytes[pos++] & 0x80) == 0)
      break;
  }
  if (len > size - pos)
    return {};
  std::string token{reinterpret_cast<const char*>(bytes + pos), len};
  if (token.compare(0, 3, "@<>") != 0)
    return {};
  std::string result;
  for (size_t i = token.find('+'); i != std::string::npos;) {
    auto next = token.find('+', i + 1);
    result += (result.empty() ? "" : ", ") + token.substr(i + 1, next - i - 1);
    i = next;
  }
  return result.empty() ? "(none)" : result;
}

} // namespace gasched::detail
