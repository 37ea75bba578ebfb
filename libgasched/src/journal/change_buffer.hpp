// The changes of the tasks since the last commit, one entry per task: a task
// that comes, runs and ends between two commits is written once. Blobs go
// into one byte arena, so buffering a task allocates nothing of its own; the
// changes and their index live in huge pages (runtime/huge_pages.hpp): a
// batch of 100,000 tasks fills 11 MB of changes at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "core/journal.hpp"
#include "runtime/huge_pages.hpp"

namespace gasched::detail {

enum class task_state : uint8_t { pending = 0, running = 1, finished = 2 };

/// Bytes in the arena; size 0: none (no blob is ever empty).
struct arena_ref {
  size_t at = 0;
  size_t size = 0;
};

/// A task's state as the next commit writes it.
struct task_change {
  task_id id = 0;
  task_state state = task_state::pending;
  bool is_new = false;    ///< not in the file yet: fn, priority and args are set
  bool requeued = false;  ///< seq and node_failures are set
  outcome_kind how = outcome_kind::succeeded;
  uint32_t fn = 0;
  int32_t priority = 0;
  uint32_t node_failures = 0;
  int64_t seq = 0;
  /// The journal's number of the node it runs on (running) or ended on
  /// (finished); -1: none, or not known (requeued: its last node is gone).
  int64_t node = -1;
  /// Running: the epoch of its lease, for adoption (scheduler_core::adopt).
  uint32_t epoch = 0;
  arena_ref args, value, error, error_text;
};

class change_buffer {
public:
  /// The changes in the order of their first change.
  class view {
  public:
    class iterator {
    public:
      iterator(const change_buffer* buf, size_t i) : buf_(buf), i_(i) {
      }
      const task_change& operator*() const noexcept {
        return buf_->at(i_);
      }
      iterator& operator++() noexcept {
        ++i_;
        return *this;
      }
      bool operator!=(const iterator& other) const noexcept {
        return i_ != other.i_;
      }

    private:
      const change_buffer* buf_;
      size_t i_;
    };

    explicit view(const change_buffer* buf) : buf_(buf) {
    }
    iterator begin() const noexcept {
      return {buf_, 0};
    }
    iterator end() const noexcept {
      return {buf_, buf_->size_};
    }
    size_t size() const noexcept {
      return buf_->size_;
    }

  private:
    const change_buffer* buf_;
  };

  /// A task the journal has not seen: it enters pending.
  task_change& add(task_id id) {
    auto& c = grow(id);
    c.is_new = true;
    return c;
  }

  /// The change of `id`, begun now if it is the first since the last commit.
  task_change& touch(task_id id) {
    if (auto i = lookup(id); i != npos)
      return at(i);
    return grow(id);
  }

  const task_change* find(task_id id) const {
    auto i = lookup(id);
    return i == npos ? nullptr : &at(i);
  }

  std::vector<char>& arena() noexcept {
    return arena_;
  }

  const char* bytes(arena_ref r) const noexcept {
    return arena_.data() + r.at;
  }

  view changes() const noexcept {
    return view{this};
  }

  bool empty() const noexcept {
    return size_ == 0;
  }

  /// Room for `more` changes and `bytes` more blob bytes, made at once: a
  /// batch of 100,000 tasks would otherwise rebuild the slots at every
  /// doubling (reading every change again, each a cache miss) and copy the
  /// arena as often.
  void reserve(size_t more, size_t bytes) {
    auto want = size_ + more;
    while (chunks_.size() * chunk_size < want)
      add_chunk();
    fit(want);
    arena_.reserve(arena_.size() + bytes);
  }

  /// Empties it, keeping its memory for the next changes: a commit of
  /// 100,000 tasks neither copies them as it grows nor touches new pages.
  void clear() {
    // Latest first: each one's probe passed only slots of earlier ones.
    for (size_t i = size_; i-- > 0;)
      slots_[slot_of(at(i).id, i)] = 0;
    size_ = 0;
    arena_.clear();
  }

private:
  // As many as fill a huge page.
  static constexpr size_t chunk_size = huge_page_size / sizeof(task_change);
  static constexpr size_t npos = SIZE_MAX;

  task_change& at(size_t i) noexcept {
    return chunks_[i / chunk_size].get()[i % chunk_size];
  }
  const task_change& at(size_t i) const noexcept {
    return chunks_[i / chunk_size].get()[i % chunk_size];
  }

  // Ids come in sequence, and so do most changes (accepted, dispatched and
  // ended in id order): the id itself is the slot, so that consecutive ids
  // are neighbours in memory and never collide. (Spreading them by a
  // multiplicative hash made nearly every lookup a cache miss: measured, the
  // largest part of buffering an accepted task.)
  size_t home(task_id id) const noexcept {
    return static_cast<size_t>(id) & (slots_.size() - 1);
  }

  size_t lookup(task_id id) const noexcept {
    if (slots_.empty())
      return npos;
    auto mask = slots_.size() - 1;
    for (auto h = home(id);; h = (h + 1) & mask) {
      auto s = slots_[h];
      if (s == 0)
        return npos;
      if (at(s - 1).id == id)
        return s - 1;
    }
  }

  // The slot that holds change i (of task `id`).
  size_t slot_of(task_id id, size_t i) const noexcept {
    auto mask = slots_.size() - 1;
    auto h = home(id);
    while (slots_[h] != i + 1)
      h = (h + 1) & mask;
    return h;
  }

  void put(task_id id, size_t i) noexcept {
    auto mask = slots_.size() - 1;
    auto h = home(id);
    while (slots_[h] != 0)
      h = (h + 1) & mask;
    slots_[h] = i + 1;
  }

  task_change& grow(task_id id) {
    if (size_ == chunks_.size() * chunk_size)
      add_chunk();
    fit(size_ + 1);
    auto i = size_++;
    auto& c = *new (&at(i)) task_change{};
    c.id = id;
    put(id, i);
    return c;
  }

  // Slots for `want` changes, at most half full: else doubled until they
  // are, and every change put again.
  void fit(size_t want) {
    if (2 * want <= slots_.size())
      return;
    auto n = std::max<size_t>(slots_.size() * 2, 1024);
    while (n < 2 * want)
      n *= 2;
    slots_.assign(n, 0);
    for (size_t i = 0; i < size_; ++i)
      put(at(i).id, i);
  }

  // Raw memory: a change begins its life in grow() (task_change is an
  // aggregate of numbers, with nothing to destroy).
  static_assert(std::is_trivially_destructible_v<task_change>);
  struct chunk_free {
    void operator()(task_change* p) const noexcept {
      huge_free(p, chunk_size * sizeof(task_change));
    }
  };

  void add_chunk() {
    chunks_.emplace_back(static_cast<task_change*>(huge_alloc(chunk_size * sizeof(task_change))));
  }

  std::vector<std::unique_ptr<task_change, chunk_free>> chunks_;  // kept when cleared
  size_t size_ = 0;
  std::vector<size_t, huge_page_allocator<size_t>> slots_;  // change index + 1; 0: empty
  std::vector<char> arena_;
};

} // namespace gasched::detail
