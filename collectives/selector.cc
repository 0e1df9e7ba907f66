// The selector's tables and logic; see selector.h.
#include "collectives/selector.h"

#include <cstdint>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/binomial_broadcast.h"
#include "collectives/binomial_reduce.h"
#include "collectives/dissemination_barrier.h"
#include "collectives/pairwise_alltoall.h"
#include "collectives/rabenseifner_allreduce.h"
#include "collectives/recursive_doubling_allgather.h"
#include "collectives/recursive_doubling_allreduce.h"
#include "collectives/recursive_halving_reduce_scatter.h"
#include "collectives/ring_allgather.h"
#include "collectives/ring_allreduce.h"
#include "collectives/ring_reduce_scatter.h"

namespace cohort {
namespace {

using K = CollectiveKind;

constexpr AlgorithmInfo kAlgorithms[] = {
    {K::kAllreduce, "ring", &RingAllreduce, nullptr},
    {K::kAllreduce, "recursive_doubling", &RecursiveDoublingAllreduce, nullptr},
    {K::kAllreduce, "rabenseifner", &RabenseifnerAllreduce, nullptr},
    {K::kReduceScatter, "ring", &RingReduceScatter, nullptr},
    {K::kReduceScatter, "recursive_halving", &RecursiveHalvingReduceScatter,
     &RecursiveHalvingReduceScatterSupports},
    {K::kAllgather, "ring", &RingAllgather, nullptr},
    {K::kAllgather, "recursive_doubling", &RecursiveDoublingAllgather,
     &RecursiveDoublingAllgatherSupports},
    {K::kBroadcast, "binomial", &BinomialBroadcast, nullptr},
    {K::kReduce, "binomial", &BinomialReduce, nullptr},
    {K::kAlltoall, "pairwise", &PairwiseAlltoall, nullptr},
    {K::kBarrier, "dissemination", &DisseminationBarrier, nullptr},
};

// The automatic choice: for a collective, the first rule whose bounds hold and whose algorithm
// supports the input wins. `bytes` is count * element size (per rank for allgather and
// reduce_scatter outputs, per peer for alltoall, as in collective_args.h). A collective whose
// rules all fail takes its first supported algorithm in kAlgorithms.
struct AutoRule {
  CollectiveKind kind;
  int min_size;      // world size bounds, inclusive
  int max_size;
  size_t max_bytes;  // inclusive
  std::string_view name;
};

constexpr int kAnySize = INT32_MAX;
constexpr size_t kAnyBytes = SIZE_MAX;
constexpr size_t KiB = 1024;

constexpr AutoRule kAutoRules[] = {
    // Two ranks: one exchange of everything beats two half-exchanges until bandwidth dominates.
    {K::kAllreduce, 2, 2, 64 * KiB, "recursive_doubling"},
    {K::kAllreduce, 2, 2, kAnyBytes, "ring"},
    {K::kAllreduce, 3, kAnySize, 16 * KiB, "recursive_doubling"},
    {K::kAllreduce, 3, kAnySize, 1024 * KiB - 1, "rabenseifner"},
    {K::kAllreduce, 3, kAnySize, kAnyBytes, "ring"},
    {K::kReduceScatter, 2, kAnySize, 64 * KiB, "recursive_halving"},
    {K::kReduceScatter, 2, kAnySize, kAnyBytes, "ring"},
    {K::kAllgather, 2, kAnySize, 64 * KiB, "recursive_doubling"},
    {K::kAllgather, 2, kAnySize, kAnyBytes, "ring"},
    {K::kBroadcast, 1, kAnySize, kAnyBytes, "binomial"},
    {K::kReduce, 1, kAnySize, kAnyBytes, "binomial"},
    {K::kAlltoall, 1, kAnySize, kAnyBytes, "pairwise"},
    {K::kBarrier, 1, kAnySize, kAnyBytes, "dissemination"},
};

const AlgorithmInfo* Find(CollectiveKind kind, std::string_view name) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.kind == kind && info.name == name) return &info;
  }
  return nullptr;
}

bool Supports(const AlgorithmInfo& info, const CollectiveArgs& args, int size) {
  return info.supports == nullptr || info.supports(args, size);
}

const AlgorithmInfo* AutoSelect(const CollectiveArgs& args, int size) {
  const size_t bytes = args.count * args.element_bytes();
  for (const AutoRule& rule : kAutoRules) {
    if (rule.kind != args.kind || size < rule.min_size || size > rule.max_size ||
        bytes > rule.max_bytes) {
      continue;
    }
    const AlgorithmInfo* info = Find(rule.kind, rule.name);
    if (info != nullptr && Supports(*info, args, size)) return info;
  }
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.kind == args.kind && Supports(info, args, size)) return &info;
  }
  return nullptr;
}

bool IsAuto(std::string_view name) { return name.empty() || name == "auto"; }

}  // namespace

std::span<const AlgorithmInfo> AllAlgorithms() { return kAlgorithms; }

std::string AlgorithmNamesForHelp() {
  std::string names = "auto";
  for (size_t i = 0; i < std::size(kAlgorithms); ++i) {
    bool seen = false;
    for (size_t j = 0; j < i; ++j) seen = seen || kAlgorithms[j].name == kAlgorithms[i].name;
    if (!seen) names += ", " + std::string(kAlgorithms[i].name);
  }
  return names;
}

Status CheckAlgorithmName(std::string_view name) {
  if (IsAuto(name)) return Status::Ok();
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.name == name) return Status::Ok();
  }
  return InvalidArgumentError("unknown collective algorithm '" + std::string(name) +
                              "' (COHORT_ALGO); expected one of: " + AlgorithmNamesForHelp());
}

Result<const AlgorithmInfo*> SelectAlgorithm(const CollectiveArgs& args, int size,
                                             std::string_view forced_algorithm) {
  COHORT_RETURN_IF_ERROR(CheckAlgorithmName(forced_algorithm));
  if (!IsAuto(forced_algorithm)) {
    // A name meant for another collective, or an input it cannot take: use the automatic choice.
    const AlgorithmInfo* forced = Find(args.kind, forced_algorithm);
    if (forced != nullptr && Supports(*forced, args, size)) return forced;
  }
  const AlgorithmInfo* chosen = AutoSelect(args, size);
  if (chosen == nullptr) {
    return UnimplementedError("no collective algorithm implements " +
                              std::string(CollectiveName(args.kind)));
  }
  return chosen;
}

Status RunCollective(PeerIo& io, const CollectiveArgs& args, Workspace& ws,
                     std::string_view forced_algorithm, std::string* chosen_name) {
  COHORT_ASSIGN_OR_RETURN(const AlgorithmInfo* algorithm,
                          SelectAlgorithm(args, io.size(), forced_algorithm));
  COHORT_RETURN_IF_ERROR(detail::ValidateArgs(io, args, args.kind,
                                              std::string(algorithm->name).c_str()));
  if (io.size() == 1) {
    if (chosen_name != nullptr) *chosen_name = "local";
    return detail::RunAlone(args);
  }
  if (chosen_name != nullptr) *chosen_name = std::string(algorithm->name);
  return algorithm->run(io, args, ws);
}

}  // namespace cohort
