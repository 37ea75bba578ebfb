// A double-ended queue kept in blocks that grow with the queue.
//
// std::deque (libstdc++) keeps its elements in 512-byte blocks: for the
// pending queue's 32-byte entries that is a heap block and a map slot per 16
// entries, about 1.5 bytes a task, 5 % of what a pending task costs. Here a
// new block holds an eighth of the queue's size (at least 16 elements, at most
// 64 KiB of them), so a queue of millions pays a few bytes per 2,048 entries
// and a queue of three pays for 16.
//
// The order is what pending_queue needs and no more: push at both ends, pop
// at the front, visit in order, and find an element by binary search on a
// key that ascends from front to back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <utility>

namespace gasched::detail {

template <class T>
class segmented_queue {
public:
  segmented_queue() = default;
  segmented_queue(segmented_queue&& other) noexcept
    : blocks_(std::move(other.blocks_)), size_(std::exchange(other.size_, 0)) {
  }
  segmented_queue& operator=(segmented_queue&& other) noexcept {
    clear();
    blocks_ = std::move(other.blocks_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  segmented_queue(const segmented_queue&) = delete;
  segmented_queue& operator=(const segmented_queue&) = delete;
  ~segmented_queue() {
    clear();
  }

  bool empty() const noexcept {
    return size_ == 0;
  }

  size_t size() const noexcept {
    return size_;
  }

  T& front() noexcept {
    auto& b = blocks_.front();
    return b.data[b.begin];
  }

  void push_back(T&& x) {
    // A back block fills from its start.
    if (blocks_.empty() || blocks_.back().end == blocks_.back().capacity)
      blocks_.emplace_back(block_capacity());
    auto& b = blocks_.back();
    new (&b.data[b.end]) T(std::move(x));
    ++b.end;
    ++size_;
  }

  void push_front(T&& x) {
    if (blocks_.empty() || blocks_.front().begin == 0) {
      auto cap = block_capacity();
      blocks_.emplace_front(cap);
      // A front block fills from its end, towards the front.
      blocks_.front().begin = blocks_.front().end = cap;
    }
    auto& b = blocks_.front();
    --b.begin;
    new (&b.data[b.begin]) T(std::move(x));
    ++size_;
  }

  void pop_front() noexcept {
    auto& b = blocks_.front();
    b.data[b.begin].~T();
    ++b.begin;
    --size_;
    if (b.begin == b.end)
      blocks_.pop_front();
  }

  /// Visits every element from front to back.
  template <class F>
  void for_each(F&& f) const {
    for (auto& b : blocks_)
      for (auto i = b.begin; i < b.end; ++i)
        f(b.data[i]);
  }

  /// The first element whose key(x) is not below `k`, or nullptr; keys
  /// ascend from front to back. O(log n).
  template <class K, class KeyFn>
  T* lower_bound(const K& k, KeyFn key) {
    return const_cast<T*>(std::as_const(*this).lower_bound(k, key));
  }

  template <class K, class KeyFn>
  const T* lower_bound(const K& k, KeyFn key) const {
    // The first block whose last element's key is not below k.
    auto blk = std::lower_bound(blocks_.begin(), blocks_.end(), k,
                                [&](const block& b, const K& v) {
                                  return key(b.data[b.end - 1]) < v;
                                });
    if (blk == blocks_.end())
      return nullptr;
    const T* first = blk->data.get() + blk->begin;
    const T* last = blk->data.get() + blk->end;
    return std::lower_bound(first, last, k,
                            [&](const T& x, const K& v) { return key(x) < v; });
  }

  void clear() noexcept {
    while (!blocks_.empty()) {
      auto& b = blocks_.front();
      for (auto i = b.begin; i < b.end; ++i)
        b.data[i].~T();
      blocks_.pop_front();
    }
    size_ = 0;
  }

private:
  // 64 KiB at most: below glibc's mmap threshold (128 KiB), so blocks come
  // from the heap's free lists rather than a system call each.
  static constexpr uint32_t min_block = 16;
  static constexpr uint32_t max_block =
    static_cast<uint32_t>(std::max<size_t>(min_block, 65536 / sizeof(T)));

  // Elements live in [begin, end) of raw storage for `capacity`.
  struct block {
    struct release {
      void operator()(T* p) const noexcept {
        ::operator delete(static_cast<void*>(p));
      }
    };
    explicit block(uint32_t cap)
      : data(static_cast<T*>(::operator new(cap * sizeof(T)))), capacity(cap) {
    }
    std::unique_ptr<T[], release> data;
    uint32_t capacity;
    uint32_t begin = 0;
    uint32_t end = 0;
  };

  uint32_t block_capacity() const noexcept {
    return static_cast<uint32_t>(
      std::clamp<size_t>(size_ / 8, min_block, max_block));
  }

  std::deque<block> blocks_;
  size_t size_ = 0;
};

} // namespace gasched::detail
