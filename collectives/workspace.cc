// Workspace (declared in collective_args.h): grow-only scratch areas. Areas of 2 MiB or more are
// anonymous mappings rounded up to whole 2 MiB pages and advised to use transparent huge pages;
// smaller ones come from the heap, 64-byte aligned. The size kept in Area says which is which.
#include <sys/mman.h>

#include <cstdlib>
#include <new>

#include "collectives/collective_args.h"

namespace cohort {
namespace {

constexpr size_t kHugePageBytes = size_t{2} << 20;
constexpr size_t kSmallAlign = 64;

size_t RoundUp(size_t value, size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

void Release(void* data, size_t bytes) {
  if (data == nullptr) return;
  if (bytes >= kHugePageBytes) {
    munmap(data, bytes);
  } else {
    std::free(data);
  }
}

}  // namespace

Workspace::~Workspace() {
  for (Area& area : areas_) Release(area.data, area.bytes);
}

void* Workspace::Get(int slot, size_t bytes) {
  if (slot < 0 || slot >= kSlots) return nullptr;
  Area& area = areas_[slot];
  if (area.data != nullptr && area.bytes >= bytes) return area.data;
  Release(area.data, area.bytes);
  area = Area{};
  if (bytes >= kHugePageBytes) {
    if (bytes > SIZE_MAX - kHugePageBytes) return nullptr;
    const size_t rounded = RoundUp(bytes, kHugePageBytes);
    void* data = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return nullptr;
    // Best effort: the kernel may not support or allow THP; plain pages still work.
    madvise(data, rounded, MADV_HUGEPAGE);
    area = {data, rounded};
  } else {
    const size_t rounded = RoundUp(bytes == 0 ? 1 : bytes, 4096);
    void* data = std::aligned_alloc(kSmallAlign, rounded);
    if (data == nullptr) return nullptr;
    area = {data, rounded};
  }
  return area.data;
}

}  // namespace cohort
