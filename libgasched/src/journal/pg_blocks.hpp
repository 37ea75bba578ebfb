// The PostgreSQL journal's blocks (layout 4): the tasks one commit accepted
// are one row's bytes (gasched_news), and the ends one commit wrote of the
// tasks of one such block are one row's bytes (gasched_done). A row per
// commit, not per task: a database writes a row of 5 MB in a fraction of the
// time of 100,000 rows of 50 bytes, each with its index entry.
//
// Integers little-endian, whatever the machine (standbys may differ).
//
//   news entry: id (8), fn (4), priority (4), args size (4), args
//   done entry: id (8), node (4; -1: none), outcome (1),
//               value size (4), value, error size (4), error, text size (4), text
//   done ids:   id (8) each, the ids of its entries
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gasched::detail {

/// A view into a block's bytes.
struct bytes_view {
  const char* data = nullptr;
  size_t size = 0;
};

struct news_entry {
  uint64_t id = 0;
  uint32_t fn = 0;
  int32_t priority = 0;
  bytes_view args;
};

struct done_entry {
  uint64_t id = 0;
  int32_t node = -1;
  uint8_t outcome = 0;
  bytes_view value, error, error_text;
};

void put_u64(std::string& out, uint64_t x);
void put_u32(std::string& out, uint32_t x);
uint64_t get_u64(const char* p);
uint32_t get_u32(const char* p);

void put_news(std::string& out, const news_entry& e);
void put_done(std::string& out, const done_entry& e);

/// Reads the entry at `at` of a block of `size` bytes, moving `at` past it;
/// false when the bytes are cut short (a damaged block).
bool next_news(const char* block, size_t size, size_t& at, news_entry& out);
bool next_done(const char* block, size_t size, size_t& at, done_entry& out);

} // namespace gasched::detail
