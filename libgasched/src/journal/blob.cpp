#include "journal/blob.hpp"

#include <cstring>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
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

} // namespace

caf::error append_blob(caf::actor_system& sys, const caf::message& x, std::vector<char>& buf) {
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
