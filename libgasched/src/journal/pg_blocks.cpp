#include "journal/pg_blocks.hpp"

namespace gasched::detail {

void put_u64(std::string& out, uint64_t x) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>((x >> (8 * i)) & 0xff);
  out.append(b, 8);
}

void put_u32(std::string& out, uint32_t x) {
  char b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<char>((x >> (8 * i)) & 0xff);
  out.append(b, 4);
}

uint64_t get_u64(const char* p) {
  uint64_t x = 0;
  for (int i = 7; i >= 0; --i)
    x = x << 8 | static_cast<unsigned char>(p[i]);
  return x;
}

uint32_t get_u32(const char* p) {
  uint32_t x = 0;
  for (int i = 3; i >= 0; --i)
    x = x << 8 | static_cast<unsigned char>(p[i]);
  return x;
}

namespace {

void put_bytes(std::string& out, bytes_view b) {
  put_u32(out, static_cast<uint32_t>(b.size));
  out.append(b.data, b.size);
}

bool get_bytes(const char* block, size_t size, size_t& at, bytes_view& out) {
  if (size - at < 4)
    return false;
  auto n = get_u32(block + at);
  at += 4;
  if (size - at < n)
    return false;
  out = {block + at, n};
  at += n;
  return true;
}

} // namespace

void put_news(std::string& out, const news_entry& e) {
  put_u64(out, e.id);
  put_u32(out, e.fn);
  put_u32(out, static_cast<uint32_t>(e.priority));
  put_bytes(out, e.args);
}

void put_done(std::string& out, const done_entry& e) {
  put_u64(out, e.id);
  put_u32(out, static_cast<uint32_t>(e.node));
  out += static_cast<char>(e.outcome);
  put_bytes(out, e.value);
  put_bytes(out, e.error);
  put_bytes(out, e.error_text);
}

bool next_news(const char* block, size_t size, size_t& at, news_entry& out) {
  if (at > size || size - at < 16)
    return false;
  out.id = get_u64(block + at);
  out.fn = get_u32(block + at + 8);
  out.priority = static_cast<int32_t>(get_u32(block + at + 12));
  at += 16;
  return get_bytes(block, size, at, out.args);
}

bool next_done(const char* block, size_t size, size_t& at, done_entry& out) {
  if (at > size || size - at < 13)
    return false;
  out.id = get_u64(block + at);
  out.node = static_cast<int32_t>(get_u32(block + at + 8));
  out.outcome = static_cast<uint8_t>(block[at + 12]);
  at += 13;
  return get_bytes(block, size, at, out.value) && get_bytes(block, size, at, out.error)
         && get_bytes(block, size, at, out.error_text);
}

} // namespace gasched::detail
