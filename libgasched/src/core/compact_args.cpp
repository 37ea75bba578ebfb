#include "core/compact_args.hpp"

#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include <caf/make_message.hpp>
#include <caf/type_nr.hpp>

namespace gasched::detail {

namespace {

template <class T>
struct tag {
  using type = T;
};

// The scalar types stored inline; 0 means "not storable inline".
enum kind : uint16_t { none, b, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64 };

kind kind_of(uint16_t nr) noexcept {
  using caf::type_nr;
  switch (nr) {
    case type_nr<bool>::value: return b;
    case type_nr<int8_t>::value: return i8;
    case type_nr<uint8_t>::value: return u8;
    case type_nr<int16_t>::value: return i16;
    case type_nr<uint16_t>::value: return u16;
    case type_nr<int32_t>::value: return i32;
    case type_nr<uint32_t>::value: return u32;
    case type_nr<int64_t>::value: return i64;
    case type_nr<uint64_t>::value: return u64;
    case type_nr<float>::value: return f32;
    case type_nr<double>::value: return f64;
    default: return none;
  }
}

template <class F>
void visit(kind k, F&& f) {
  switch (k) {
    case b: f(tag<bool>{}); break;
    case i8: f(tag<int8_t>{}); break;
    case u8: f(tag<uint8_t>{}); break;
    case i16: f(tag<int16_t>{}); break;
    case u16: f(tag<uint16_t>{}); break;
    case i32: f(tag<int32_t>{}); break;
    case u32: f(tag<uint32_t>{}); break;
    case i64: f(tag<int64_t>{}); break;
    case u64: f(tag<uint64_t>{}); break;
    case f32: f(tag<float>{}); break;
    case f64: f(tag<double>{}); break;
    case none: break;
  }
}

// Kinds that may stand in a pair: every pair is a make_message instantiation,
// and all 121 pairs of the 11 kinds cost 25 s of compile time.
bool pairable(kind k) noexcept {
  return k == b || k == i32 || k == u32 || k == i64 || k == u64 || k == f64;
}

template <class F>
void visit_pairable(kind k, F&& f) {
  switch (k) {
    case b: f(tag<bool>{}); break;
    case i32: f(tag<int32_t>{}); break;
    case u32: f(tag<uint32_t>{}); break;
    case i64: f(tag<int64_t>{}); break;
    case u64: f(tag<uint64_t>{}); break;
    case f64: f(tag<double>{}); break;
    default: break;
  }
}

size_t size_of(kind k) noexcept {
  size_t n = 0;
  visit(k, [&](auto t) { n = sizeof(typename decltype(t)::type); });
  return n;
}

template <class T>
T load(const unsigned char* p) noexcept {
  T x;
  std::memcpy(&x, p, sizeof(T));
  return x;
}

} // namespace

compact_args::compact_args() noexcept : layout_(0) {
}

compact_args::compact_args(caf::message&& msg) : layout_(0) {
  auto n = msg.size();
  kind k[2] = {none, none};
  size_t total = 0;
  bool fits = n <= 2;
  for (size_t i = 0; fits && i < n; ++i) {
    k[i] = kind_of(msg.type(i).first);
    total += size_of(k[i]);
    fits = k[i] != none && total <= sizeof(bytes_);
  }
  if (n == 2)
    fits = fits && pairable(k[0]) && pairable(k[1]);
  if (!fits) {
    new (bytes_) caf::message::data_ptr(std::move(msg.vals()));
    layout_ = heap_flag;
    return;
  }
  size_t offset = 0;
  for (size_t i = 0; i < n; ++i)
    visit(k[i], [&](auto t) {
      using T = typename decltype(t)::type;
      std::memcpy(bytes_ + offset, &msg.get_as<T>(i), sizeof(T));
      offset += sizeof(T);
    });
  layout_ = static_cast<uint16_t>(n | (k[0] << 2) | (k[1] << 6));
  msg.reset();  // the heap block goes now, not when the caller drops it
}

compact_args::compact_args(compact_args&& other) noexcept : layout_(other.layout_) {
  std::memcpy(bytes_, other.bytes_, sizeof(bytes_));  // a data_ptr is relocatable
  other.layout_ = 0;
}

compact_args& compact_args::operator=(compact_args&& other) noexcept {
  if (this != &other) {
    release();
    std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
    layout_ = other.layout_;
    other.layout_ = 0;
  }
  return *this;
}

compact_args::~compact_args() {
  release();
}

bool compact_args::is_inline() const noexcept {
  return layout_ != heap_flag;
}

caf::message::data_ptr& compact_args::heap_ptr() noexcept {
  return *std::launder(reinterpret_cast<caf::message::data_ptr*>(bytes_));
}

const caf::message::data_ptr& compact_args::heap_ptr() const noexcept {
  return *std::launder(reinterpret_cast<const caf::message::data_ptr*>(bytes_));
}

void compact_args::release() noexcept {
  if (layout_ == heap_flag)
    std::destroy_at(&heap_ptr());
  layout_ = 0;
}

caf::message compact_args::to_message() const {
  if (layout_ == heap_flag)
    return caf::message{heap_ptr()};
  auto n = layout_ & 3u;
  auto k0 = static_cast<kind>((layout_ >> 2) & 15u);
  auto k1 = static_cast<kind>((layout_ >> 6) & 15u);
  caf::message result;
  if (n == 1) {
    visit(k0, [&](auto t0) {
      using T0 = typename decltype(t0)::type;
      result = caf::make_message(load<T0>(bytes_));
    });
  } else if (n == 2) {
    visit_pairable(k0, [&](auto t0) {
      using T0 = typename decltype(t0)::type;
      visit_pairable(k1, [&](auto t1) {
        using T1 = typename decltype(t1)::type;
        result = caf::make_message(load<T0>(bytes_), load<T1>(bytes_ + sizeof(T0)));
      });
    });
  }
  return result;
}

} // namespace gasched::detail
