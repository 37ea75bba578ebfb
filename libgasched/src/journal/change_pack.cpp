#include "journal/change_pack.hpp"

#include "journal/varint.hpp"

namespace gasched::detail {

using varint::get;
using varint::get_signed;
using varint::put;
using varint::put_signed;

namespace {

// Bytes as their size and themselves; size 0: none.
void put_bytes(std::vector<char>& out, const char* data, size_t size) {
  put(out, size);
  out.insert(out.end(), data, data + size);
}

bool get_bytes(const unsigned char*& p, const unsigned char* end, const char*& data,
               size_t& size) {
  uint64_t n = 0;
  if (!get(p, end, n) || n > static_cast<uint64_t>(end - p))
    return false;
  data = reinterpret_cast<const char*>(p);
  size = static_cast<size_t>(n);
  p += n;
  return true;
}

// Which of a move's optional numbers follow its flags.
constexpr uint64_t running = 1, has_seq = 2, has_node_failures = 4, has_node = 8,
                   has_epoch = 16;

} // namespace

void end_pack_writer::add(const packed_end& e) {
  begin(e.id);
  put(bytes_, static_cast<uint64_t>(e.node + 1));
  put(bytes_, e.how);
  put_bytes(bytes_, e.value, e.value_size);
  put_bytes(bytes_, e.error, e.error_size);
}

bool end_pack_reader::next(packed_end& e) {
  return step([&](const unsigned char*& p, const unsigned char* end, int64_t id) {
    uint64_t node = 0, how = 0;
    if (!get(p, end, node) || node > uint64_t{INT64_MAX} || !get(p, end, how) || how > 3
        || !get_bytes(p, end, e.value, e.value_size)
        || !get_bytes(p, end, e.error, e.error_size))
      return false;
    e.id = id;
    e.node = static_cast<int64_t>(node) - 1;
    e.how = static_cast<uint8_t>(how);
    return true;
  });
}

bool read_end_ids(const void* data, size_t size, int64_t first, int64_t last,
                  std::vector<int64_t>& out) {
  end_pack_reader in{data, size};
  packed_end e;
  while (in.next(e)) {
    if (e.id < first || e.id > last)
      return false;
    out.push_back(e.id);
  }
  return !in.damaged();
}

void move_pack_writer::add(const packed_move& m) {
  begin(m.id);
  uint64_t flags = (m.state == 1 ? running : 0) | (m.has_seq ? has_seq : 0)
                   | (m.has_node_failures ? has_node_failures : 0)
                   | (m.node >= 0 ? has_node : 0) | (m.epoch >= 0 ? has_epoch : 0);
  put(bytes_, flags);
  if (m.has_seq)
    put_signed(bytes_, m.seq);
  if (m.has_node_failures)
    put(bytes_, static_cast<uint64_t>(m.node_failures));
  if (m.node >= 0)
    put(bytes_, static_cast<uint64_t>(m.node));
  if (m.epoch >= 0)
    put(bytes_, static_cast<uint64_t>(m.epoch));
}

bool move_pack_reader::next(packed_move& m) {
  return step([&](const unsigned char*& p, const unsigned char* end, int64_t id) {
    uint64_t flags = 0, failures = 0, node = 0, epoch = 0;
    int64_t seq = 0;
    auto ok = get(p, end, flags) && flags < 32
              && (!(flags & has_seq) || get_signed(p, end, seq))
              && (!(flags & has_node_failures) || (get(p, end, failures) && failures <= UINT32_MAX))
              && (!(flags & has_node) || (get(p, end, node) && node <= uint64_t{INT64_MAX}))
              && (!(flags & has_epoch) || (get(p, end, epoch) && epoch <= UINT32_MAX));
    if (!ok)
      return false;
    m = packed_move{};
    m.id = id;
    m.state = (flags & running) != 0 ? 1 : 0;
    m.has_seq = (flags & has_seq) != 0;
    m.seq = seq;
    m.has_node_failures = (flags & has_node_failures) != 0;
    m.node_failures = static_cast<int64_t>(failures);
    m.node = (flags & has_node) != 0 ? static_cast<int64_t>(node) : -1;
    m.epoch = (flags & has_epoch) != 0 ? static_cast<int64_t>(epoch) : -1;
    return true;
  });
}

} // namespace gasched::detail
