#include "runtime/huge_pages.hpp"

#include <cstdint>

#include <sys/mman.h>

namespace gasched::detail {

namespace {

size_t rounded(size_t bytes) {
  return (bytes + huge_page_size - 1) & ~(huge_page_size - 1);
}

} // namespace

void* huge_alloc(size_t bytes) {
  auto len = rounded(bytes);
  if (len < bytes)
    throw std::bad_alloc();
  // One huge page more than asked, so that an aligned start lies within;
  // what is before and after it goes back at once.
  auto whole = len + huge_page_size;
  auto p = ::mmap(nullptr, whole, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::bad_alloc();
  auto at = reinterpret_cast<uintptr_t>(p);
  auto start = (at + huge_page_size - 1) & ~(uintptr_t{huge_page_size} - 1);
  if (auto head = start - at; head > 0)
    ::munmap(p, head);
  if (auto tail = at + whole - (start + len); tail > 0)
    ::munmap(reinterpret_cast<void*>(start + len), tail);
  // Advice only: a kernel without huge pages leaves plain pages.
  ::madvise(reinterpret_cast<void*>(start), len, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
}

void huge_free(void* p, size_t bytes) noexcept {
  if (p != nullptr)
    ::munmap(p, rounded(bytes));
}

} // namespace gasched::detail
