// Placement: balance on real model shapes (ResNet-50, BERT-base), exact coverage, small keys kept
// whole, one slice per server per key, and the same answer for the same input.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "tests/unit/ps/model_shapes.h"

namespace cohort::ps {
namespace {

using testing::BertBaseShapes;
using testing::ResNet50Shapes;

uint64_t Parameters(const std::vector<KeySpec>& keys) {
  uint64_t n = 0;
  for (const KeySpec& k : keys) n += k.count();
  return n;
}

// Checks the invariants of a placement and returns the bytes per server it implies.
std::vector<uint64_t> CheckPlacement(const std::vector<KeySpec>& keys,
                                     const std::vector<KeyPlacement>& placement, int servers,
                                     size_t min_split) {
  std::vector<uint64_t> bytes(static_cast<size_t>(servers), 0);
  EXPECT_EQ(placement.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const KeyPlacement& p = placement[i];
    uint64_t next = 0;
    std::vector<int> used;
    for (const SliceSpec& s : p) {
      EXPECT_EQ(s.offset, next) << keys[i].name << ": slices must tile the key in order";
      EXPECT_GE(s.server, 0);
      EXPECT_LT(s.server, servers);
      next += s.count;
      used.push_back(s.server);
      bytes[static_cast<size_t>(s.server)] += s.count * 4;
      if (p.size() > 1) {
        EXPECT_GE(s.count * 4, min_split) << keys[i].name << ": a split piece below the threshold";
      }
    }
    EXPECT_EQ(next, keys[i].count()) << keys[i].name;
    std::sort(used.begin(), used.end());
    EXPECT_EQ(std::adjacent_find(used.begin(), used.end()), used.end())
        << keys[i].name << " has two slices on one server";
    if (keys[i].bytes() <= min_split) {
      EXPECT_EQ(p.size(), 1u) << keys[i].name << " is small and must not be split";
    }
  }
  return bytes;
}

void ExpectBalanced(const std::vector<uint64_t>& bytes, const std::string& what) {
  const auto [lo, hi] = std::minmax_element(bytes.begin(), bytes.end());
  EXPECT_LE(static_cast<double>(*hi), 1.05 * static_cast<double>(*lo))
      << what << ": server bytes range from " << *lo << " to " << *hi;
}

TEST(PlacementTest, ModelShapesAreTheRealModels) {
  EXPECT_EQ(ResNet50Shapes().size(), 161u);
  EXPECT_EQ(Parameters(ResNet50Shapes()), 25'557'032u);
  EXPECT_EQ(BertBaseShapes().size(), 199u);
  EXPECT_EQ(Parameters(BertBaseShapes()), 109'482'240u);
}

TEST(PlacementTest, ResNet50AndBertBaseAreBalancedWithin5Percent) {
  for (const auto& [model, keys] : {std::pair{"ResNet-50", ResNet50Shapes()},
                                    std::pair{"BERT-base", BertBaseShapes()}}) {
    for (int servers = 1; servers <= 8; ++servers) {
      std::vector<uint64_t> loads;
      auto placement = PlaceKeys(keys, servers, kDefaultMinSplitBytes, &loads);
      auto bytes = CheckPlacement(keys, placement, servers, kDefaultMinSplitBytes);
      EXPECT_EQ(bytes, loads) << "PlaceKeys must report the bytes it placed";
      ExpectBalanced(bytes, std::string(model) + " on " + std::to_string(servers) + " servers");
    }
  }
}

TEST(PlacementTest, KeysDeclaredOneAtATimeStayBalanced) {
  // init(key) per key: each call is its own batch, placed against the loads of the earlier ones.
  for (const auto& keys : {ResNet50Shapes(), BertBaseShapes()}) {
    for (int servers : {2, 3, 4}) {
      std::vector<uint64_t> loads;
      std::vector<KeyPlacement> placement;
      for (const KeySpec& key : keys) {
        placement.push_back(PlaceKeys(std::span(&key, 1), servers, kDefaultMinSplitBytes, &loads)[0]);
      }
      ExpectBalanced(CheckPlacement(keys, placement, servers, kDefaultMinSplitBytes),
                     keys[0].name + " one at a time on " + std::to_string(servers));
    }
  }
}

TEST(PlacementTest, IsAPureFunctionOfKeysShapesAndServers) {
  const auto keys = BertBaseShapes();
  std::vector<uint64_t> a, b;
  EXPECT_EQ(PlaceKeys(keys, 3, kDefaultMinSplitBytes, &a), PlaceKeys(keys, 3, kDefaultMinSplitBytes, &b));
  // Another shape changes the answer: the placement depends on shapes, not only names.
  auto changed = keys;
  changed[0].shape = {30522, 1024};
  std::vector<uint64_t> c;
  EXPECT_NE(PlaceKeys(changed, 3, kDefaultMinSplitBytes, &c), PlaceKeys(keys, 3, kDefaultMinSplitBytes, &b));
}

TEST(PlacementTest, OneBigKeyIsSplitEvenlyAndSmallKeysSpread) {
  std::vector<KeySpec> big = {{"w", {1 << 24}, DataType::kF32}};  // 64 MiB
  std::vector<uint64_t> loads;
  auto p = PlaceKeys(big, 4, kDefaultMinSplitBytes, &loads);
  ASSERT_EQ(p[0].size(), 4u);
  for (const SliceSpec& s : p[0]) EXPECT_EQ(s.count, (1u << 24) / 4);

  std::vector<KeySpec> small;
  for (int i = 0; i < 40; ++i) small.push_back({"b" + std::to_string(i), {1024}, DataType::kF32});
  loads.clear();
  auto q = PlaceKeys(small, 4, kDefaultMinSplitBytes, &loads);
  for (const KeyPlacement& kp : q) EXPECT_EQ(kp.size(), 1u);
  EXPECT_EQ(loads, std::vector<uint64_t>(4, 10 * 4096));
}

TEST(PlacementTest, EmptyAndScalarKeys) {
  std::vector<KeySpec> keys = {{"empty", {0, 5}, DataType::kF32}, {"scalar", {}, DataType::kBF16}};
  std::vector<uint64_t> loads;
  auto p = PlaceKeys(keys, 3, kDefaultMinSplitBytes, &loads);
  ASSERT_EQ(p[0].size(), 1u);
  EXPECT_EQ(p[0][0].count, 0u);
  ASSERT_EQ(p[1].size(), 1u);
  EXPECT_EQ(p[1][0].count, 1u);
}

TEST(PlacementTest, ValidateKeySpecRefusesBadKeys) {
  EXPECT_FALSE(ValidateKeySpec({"", {1}, DataType::kF32}).ok());
  EXPECT_FALSE(ValidateKeySpec({"x", {-1}, DataType::kF32}).ok());
  EXPECT_FALSE(ValidateKeySpec({"x", {1}, DataType::kI32}).ok());
  EXPECT_FALSE(ValidateKeySpec({"x", {1 << 30, 1 << 30}, DataType::kF32}).ok());
  EXPECT_TRUE(ValidateKeySpec({"x", {3, 4}, DataType::kF16}).ok());
}

}  // namespace
}  // namespace cohort::ps
