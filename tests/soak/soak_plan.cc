// The soak program's options and operation sequence (see soak_plan.h).
#include "tests/soak/soak_plan.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iterator>

#include "benchmarks/cohort_bench/bench_math.h"

namespace cohort::soak {
namespace {

// Kinds and how often each is drawn (out of their sum).
struct Weighted {
  CollectiveKind kind;
  unsigned weight;
};
constexpr Weighted kKindWeights[] = {
    {CollectiveKind::kAllreduce, 4}, {CollectiveKind::kReduceScatter, 2},
    {CollectiveKind::kAllgather, 2}, {CollectiveKind::kBroadcast, 2},
    {CollectiveKind::kReduce, 2},    {CollectiveKind::kAlltoall, 2},
    {CollectiveKind::kBarrier, 1},   {CollectiveKind::kSendRecv, 2},
};

CollectiveKind PickKind(uint64_t draw) {
  unsigned total = 0;
  for (const Weighted& w : kKindWeights) total += w.weight;
  auto left = static_cast<unsigned>(draw % total);
  for (const Weighted& w : kKindWeights) {
    if (left < w.weight) return w.kind;
    left -= w.weight;
  }
  return CollectiveKind::kAllreduce;
}

// A number with an optional binary suffix: 4194304, 4096K, 4M.
bool ParseBytes(const std::string& text, size_t* bytes) {
  size_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, err] = std::from_chars(text.data(), end, value);
  if (err != std::errc() || ptr == text.data()) return false;
  const std::string suffix(ptr, end);
  if (suffix == "K" || suffix == "k") value <<= 10;
  else if (suffix == "M" || suffix == "m") value <<= 20;
  else if (!suffix.empty()) return false;
  *bytes = value;
  return true;
}

// Sets the element count of `op` from the size in bytes of its larger buffer.
void SizeOp(SoakOp& op, size_t bytes) {
  const size_t es = DataTypeSize(op.c.dtype);
  if (op.c.kind == CollectiveKind::kBarrier) op.c.count = 0;
  else if (op.c.kind == CollectiveKind::kSendRecv) op.c.count = bytes / es;
  else op.c.count = bench::LayoutFor(op.c.kind, bytes, es, op.c.nranks).count;
}

}  // namespace

Result<SoakOptions> ParseSoakOptions(int argc, char** argv) {
  SoakOptions o;
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (i + 1 >= argc) return InvalidArgumentError(name + " needs a value");
    const std::string value = argv[i + 1];
    bool ok = true;
    if (name == "--minutes") {
      char* end = nullptr;
      o.minutes = std::strtod(value.c_str(), &end);
      ok = end != value.c_str() && *end == '\0' && o.minutes >= 0 && std::isfinite(o.minutes);
    } else if (name == "--seed") {
      const auto [ptr, err] = std::from_chars(value.data(), value.data() + value.size(), o.seed);
      ok = err == std::errc() && ptr == value.data() + value.size();
    } else if (name == "--max-bytes") {
      ok = ParseBytes(value, &o.max_bytes) && o.max_bytes > 0;
    } else if (name == "--json") {
      o.json_path = value;
    } else if (name == "--rss-limit-mib") {
      const auto [ptr, err] =
          std::from_chars(value.data(), value.data() + value.size(), o.rss_limit_mib);
      ok = err == std::errc() && ptr == value.data() + value.size() && o.rss_limit_mib >= 0;
    } else {
      return InvalidArgumentError("unknown option " + name +
                                  " (options: --minutes --seed --max-bytes --json --rss-limit-mib)");
    }
    if (!ok) return InvalidArgumentError(name + " " + value + " is not a valid value");
  }
  return o;
}

SoakOp DrawOp(uint64_t seed, uint64_t index, size_t max_bytes, int rank, int nranks) {
  const uint64_t op_seed = bench::MixSeed(seed, index);
  uint64_t next = 0;
  auto draw = [&] { return bench::HashElement(op_seed, 0, next++); };
  SoakOp op;
  op.c.kind = PickKind(draw());
  op.c.dtype = kAllDataTypes[draw() % std::size(kAllDataTypes)];
  op.c.op = kAllReduceOps[draw() % std::size(kAllReduceOps)];
  if (!CheckOpSupported(op.c.op, op.c.dtype).ok()) op.c.op = ReduceOp::kSum;  // avg on integers
  op.c.root = static_cast<int>(draw() % static_cast<uint64_t>(nranks));
  op.c.rank = rank;
  op.c.nranks = nranks;
  op.c.seed = op_seed;
  op.in_place = draw() & 1;
  op.async = draw() & 1;
  op.shift = nranks > 1 ? 1 + static_cast<int>(draw() % static_cast<uint64_t>(nranks - 1)) : 0;
  // Log-uniform in [1, max_bytes]: 53 random bits as a fraction of the exponent's range.
  const double fraction = static_cast<double>(draw() >> 11) * 0x1p-53;
  const auto bytes = static_cast<size_t>(std::exp(fraction * std::log(double(max_bytes) + 1)));
  SizeOp(op, draw() % 16 == 0 ? 0 : std::min(bytes, max_bytes));
  return op;
}

SoakOp FixedOp(CollectiveKind kind, DataType dtype, size_t bytes, bool in_place, bool async,
               uint64_t seed, int rank, int nranks) {
  SoakOp op{.c = {kind, dtype, ReduceOp::kSum, /*root=*/0, rank, nranks, /*count=*/0, seed},
            .in_place = in_place,
            .async = async,
            .shift = nranks > 1 ? 1 : 0};
  SizeOp(op, bytes);
  return op;
}

}  // namespace cohort::soak
