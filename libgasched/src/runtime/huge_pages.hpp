// Memory for large buffers that fill fast and are dropped whole (a journal's
// changes between two commits), in transparent huge pages where the kernel
// offers them (madvise or always): the first touch of 2 MiB then costs one
// page fault instead of 512. Where a fault is dear (a virtual machine: about
// 11 µs here), a fresh journal taking a batch of 100,000 tasks spent about
// 40 ms of its scheduler's thread on them (docs/benchmarks.md). Where the
// kernel gives no huge pages it is plain anonymous memory.
#pragma once

#include <cstddef>
#include <new>

namespace gasched::detail {

/// At least `bytes` bytes, aligned to huge_page_size, advised to the kernel
/// as huge pages; std::bad_alloc when the address space is exhausted.
void* huge_alloc(size_t bytes);

/// Gives back what huge_alloc(bytes) returned.
void huge_free(void* p, size_t bytes) noexcept;

inline constexpr size_t huge_page_size = size_t{2} << 20;

/// An allocator for containers that may grow large: huge pages from
/// huge_page_size on, the heap below (a small buffer keeps no 2 MiB).
template <class T>
struct huge_page_allocator {
  using value_type = T;

  huge_page_allocator() = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {
  }

  T* allocate(size_t n) {
    auto bytes = n * sizeof(T);
    if (bytes < huge_page_size)
      return static_cast<T*>(::operator new(bytes));
    return static_cast<T*>(huge_alloc(bytes));
  }

  void deallocate(T* p, size_t n) noexcept {
    auto bytes = n * sizeof(T);
    if (bytes < huge_page_size)
      ::operator delete(p);
    else
      huge_free(p, bytes);
  }

  template <class U>
  bool operator==(const huge_page_allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const huge_page_allocator<U>&) const noexcept {
    return false;
  }
};

} // namespace gasched::detail
