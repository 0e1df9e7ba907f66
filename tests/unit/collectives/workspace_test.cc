// Workspace: grow-only scratch slots, small (heap) and large (huge-page mappings).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "collectives/collective_args.h"

namespace cohort {
namespace {

TEST(WorkspaceTest, GrowsOnlyAndReusesSmallerRequests) {
  Workspace ws;
  void* a = ws.Get(0, 100);
  ASSERT_NE(a, nullptr);
  std::memset(a, 1, 100);
  EXPECT_EQ(ws.Get(0, 50), a);
  EXPECT_EQ(ws.Get(0, 100), a);
  void* big = ws.Get(0, (3u << 20) + 1);  // beyond 2 MiB: a huge-page mapping, rounded up
  ASSERT_NE(big, nullptr);
  std::memset(big, 2, (4u << 20));        // rounded up to whole 2 MiB pages
  EXPECT_EQ(ws.Get(0, 4u << 20), big);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % 4096, 0u);
}

TEST(WorkspaceTest, SlotsAreDistinct) {
  Workspace ws;
  char* slots[Workspace::kSlots];
  for (int s = 0; s < Workspace::kSlots; ++s) {
    slots[s] = static_cast<char*>(ws.Get(s, 4096));
    ASSERT_NE(slots[s], nullptr);
    std::memset(slots[s], s, 4096);
  }
  for (int s = 0; s < Workspace::kSlots; ++s) {
    EXPECT_EQ(slots[s][0], s);
    EXPECT_EQ(slots[s][4095], s);
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(slots[1]) % 64, 0u);
  EXPECT_EQ(ws.Get(Workspace::kSlots, 8), nullptr);
  EXPECT_EQ(ws.Get(-1, 8), nullptr);
  EXPECT_EQ(ws.Get(0, SIZE_MAX), nullptr);  // cannot exist; reported as nullptr, not a crash
}

}  // namespace
}  // namespace cohort
