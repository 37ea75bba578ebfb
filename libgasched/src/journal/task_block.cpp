#include "journal/task_block.hpp"

#include <cstdint>

#include "journal/varint.hpp"

namespace gasched::detail {

using varint::get;
using varint::get_signed;
using varint::put;
using varint::put_signed;

// Ids and seqs are written as differences: ids ascend, and a new task's seq
// is its id.
void block_writer::add(const block_task& t) {
  auto prev = count_ == 0 ? 0 : last_;
  if (count_ == 0)
    first_ = t.id;
  last_ = t.id;
  ++count_;
  put(bytes_, static_cast<uint64_t>(t.id - prev));
  put(bytes_, t.fn);
  put_signed(bytes_, t.priority);
  put(bytes_, t.state);
  put_signed(bytes_, t.seq - t.id);
  put(bytes_, t.node_failures);
  put_signed(bytes_, t.node);
  put(bytes_, t.epoch);
  put(bytes_, t.args_size);
  bytes_.insert(bytes_.end(), t.args, t.args + t.args_size);
}

bool block_reader::next(block_task& t) {
  if (at_ == end_ || damaged_)
    return false;
  uint64_t delta = 0, fn = 0, state = 0, failures = 0, epoch = 0, size = 0;
  int64_t priority = 0, seq = 0, node = 0;
  auto p = at_;
  auto ok = get(p, end_, delta) && get(p, end_, fn) && get_signed(p, end_, priority)
            && get(p, end_, state) && get_signed(p, end_, seq) && get(p, end_, failures)
            && get_signed(p, end_, node) && get(p, end_, epoch) && get(p, end_, size);
  if (!ok || delta == 0 || delta > uint64_t{INT64_MAX} - static_cast<uint64_t>(last_id_)
      || fn > UINT32_MAX || priority < INT32_MIN || priority > INT32_MAX || state > 1
      || failures > UINT32_MAX || epoch > UINT32_MAX || size == 0
      || size > static_cast<uint64_t>(end_ - p)) {
    damaged_ = true;
    return false;
  }
  t.id = last_id_ + static_cast<int64_t>(delta);
  t.fn = static_cast<uint32_t>(fn);
  t.priority = static_cast<int32_t>(priority);
  t.state = static_cast<uint8_t>(state);
  t.seq = static_cast<int64_t>(static_cast<uint64_t>(seq) + static_cast<uint64_t>(t.id));
  t.node_failures = static_cast<uint32_t>(failures);
  t.node = node;
  t.epoch = static_cast<uint32_t>(epoch);
  t.args_size = static_cast<size_t>(size);
  t.args = reinterpret_cast<const char*>(p);
  last_id_ = t.id;
  at_ = p + size;
  return true;
}

} // namespace gasched::detail
