#include "journal/change_pack.hpp"

#include "journal/varint.hpp"

namespace gasched::detail {

using varint::get;
using varint::get_signed;
using varint::put;
using varint::put_signed;

namespace {

// An id as the difference from the one before (ids ascend within a pack).
bool next_id(const unsigned char*& p, const unsigned char* end, int64_t& last, int64_t& id) {
  uint64_t delta = 0;
  if (!get(p, end, delta) || delta == 0
      || delta > uint64_t{INT64_MAX} - static_cast<uint64_t>(last))
    return false;
  id = last + static_cast<int64_t>(delta);
  last = id;
  return true;
}

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
  auto prev = count_ == 0 ? 0 : last_;
  if (count_ == 0)
    first_ = e.id;
  last_ = e.id;
  ++count_;
  put(bytes_, static_cast<uint64_t>(e.id - prev));
  put(bytes_, static_cast<uint64_t>(e.node + 1));
  put(bytes_, e.how);
  put_bytes(bytes_, e.value, e.value_size);
  put_bytes(bytes_, e.error, e.error_size);
}

bool end_pack_reader::next(packed_end& e) {
  if (at_ == end_ || damaged_)
    return false;
  auto p = at_;
  auto last = last_id_;
  uint64_t node = 0, how = 0;
  if (!next_id(p, end_, last, e.id) || !get(p, end_, node) || node > uint64_t{INT64_MAX}
      || !get(p, end_, how) || how > 3 || !get_bytes(p, end_, e.value, e.value_size)
      || !get_bytes(p, end_, e.error, e.error_size)) {
    damaged_ = true;
    return false;
  }
  e.node = static_cast<int64_t>(node) - 1;
  e.how = static_cast<uint8_t>(how);
  last_id_ = last;
  at_ = p;
  return true;
}

void move_pack_writer::add(const packed_move& m) {
  put(bytes_, static_cast<uint64_t>(m.id - (count_ == 0 ? 0 : last_)));
  last_ = m.id;
  ++count_;
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
  if (at_ == end_ || damaged_)
    return false;
  auto p = at_;
  auto last = last_id_;
  uint64_t flags = 0, failures = 0, node = 0, epoch = 0;
  m = packed_move{};
  auto ok = next_id(p, end_, last, m.id) && get(p, end_, flags) && flags < 32
            && (!(flags & has_seq) || get_signed(p, end_, m.seq))
            && (!(flags & has_node_failures) || (get(p, end_, failures) && failures <= UINT32_MAX))
            && (!(flags & has_node) || (get(p, end_, node) && node <= uint64_t{INT64_MAX}))
            && (!(flags & has_epoch) || (get(p, end_, epoch) && epoch <= UINT32_MAX));
  if (!ok) {
    damaged_ = true;
    return false;
  }
  m.state = (flags & running) != 0 ? 1 : 0;
  m.has_seq = (flags & has_seq) != 0;
  m.has_node_failures = (flags & has_node_failures) != 0;
  m.node_failures = static_cast<int64_t>(failures);
  m.node = (flags & has_node) != 0 ? static_cast<int64_t>(node) : -1;
  m.epoch = (flags & has_epoch) != 0 ? static_cast<int64_t>(epoch) : -1;
  last_id_ = last;
  at_ = p;
  return true;
}

} // namespace gasched::detail
