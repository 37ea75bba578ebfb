#include "journal/task_block.hpp"

#include <cstdint>

#include "journal/varint.hpp"

namespace gasched::detail {

using varint::get;
using varint::get_signed;
using varint::put;
using varint::put_signed;

// Seqs are written as differences from the id: a new task's seq is its id.
void block_writer::add(const block_task& t) {
  begin(t.id);
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
  return step([&](const unsigned char*& p, const unsigned char* end, int64_t id) {
    uint64_t fn = 0, state = 0, failures = 0, epoch = 0, size = 0;
    int64_t priority = 0, seq = 0, node = 0;
    auto ok = get(p, end, fn) && get_signed(p, end, priority) && get(p, end, state)
              && get_signed(p, end, seq) && get(p, end, failures) && get_signed(p, end, node)
              && get(p, end, epoch) && get(p, end, size);
    if (!ok || fn > UINT32_MAX || priority < INT32_MIN || priority > INT32_MAX || state > 1
        || failures > UINT32_MAX || epoch > UINT32_MAX || size == 0
        || size > static_cast<uint64_t>(end - p))
      return false;
    t.id = id;
    t.fn = static_cast<uint32_t>(fn);
    t.priority = static_cast<int32_t>(priority);
    t.state = static_cast<uint8_t>(state);
    t.seq = static_cast<int64_t>(static_cast<uint64_t>(seq) + static_cast<uint64_t>(id));
    t.node_failures = static_cast<uint32_t>(failures);
    t.node = node;
    t.epoch = static_cast<uint32_t>(epoch);
    t.args_size = static_cast<size_t>(size);
    t.args = reinterpret_cast<const char*>(p);
    p += size;
    return true;
  });
}

} // namespace gasched::detail
