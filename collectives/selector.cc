// The selector's tables and logic; see selector.h.
#include "collectives/selector.h"

#include <cstdint>
#include <vector>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"
#include "collectives/binomial_broadcast.h"
#include "collectives/binomial_reduce.h"
#include "collectives/dissemination_barrier.h"
#include "collectives/hierarchical.h"
#include "collectives/pairwise_alltoall.h"
#include "collectives/rabenseifner_allreduce.h"
#include "collectives/recursive_doubling_allgather.h"
#include "collectives/recursive_doubling_allreduce.h"
#include "collectives/recursive_halving_reduce_scatter.h"
#include "collectives/ring_allgather.h"
#include "collectives/ring_allreduce.h"
#include "collectives/ring_reduce_scatter.h"
#include "collectives/shm_direct.h"

namespace cohort {
namespace {

using K = CollectiveKind;

constexpr AlgorithmInfo kAlgorithms[] = {
    {K::kAllreduce, "ring", &RingAllreduce, nullptr, false},
    {K::kAllreduce, "recursive_doubling", &RecursiveDoublingAllreduce, nullptr, false},
    {K::kAllreduce, "rabenseifner", &RabenseifnerAllreduce, nullptr, false},
    {K::kReduceScatter, "ring", &RingReduceScatter, nullptr, false},
    {K::kReduceScatter, "recursive_halving", &RecursiveHalvingReduceScatter,
     &RecursiveHalvingReduceScatterSupports, false},
    {K::kAllgather, "ring", &RingAllgather, nullptr, false},
    {K::kAllgather, "recursive_doubling", &RecursiveDoublingAllgather,
     &RecursiveDoublingAllgatherSupports, false},
    {K::kBroadcast, "binomial", &BinomialBroadcast, nullptr, false},
    {K::kReduce, "binomial", &BinomialReduce, nullptr, false},
    {K::kAlltoall, "pairwise", &PairwiseAlltoall, nullptr, false},
    {K::kBarrier, "dissemination", &DisseminationBarrier, nullptr, false},
    // Worlds that span hosts, some of them with several ranks (hierarchical.h).
    {K::kAllreduce, "hierarchical", &HierarchicalAllreduce, &HierarchicalSupports, false},
    {K::kBroadcast, "hierarchical", &HierarchicalBroadcast, &HierarchicalSupports, false},
    {K::kAllgather, "hierarchical", &HierarchicalAllgather, &HierarchicalAllgatherSupports, false},
    // Direct shared-memory algorithms: only when every rank is on one host (shm_direct.h).
    {K::kAllreduce, "shm_direct", &ShmDirectAllreduce, &ShmDirectSupports, true},
    {K::kAllreduce, "shm_oneshot", &ShmOneShotAllreduce, &ShmOneShotSupports, true},
    {K::kReduceScatter, "shm_direct", &ShmDirectReduceScatter, &ShmDirectSupports, true},
    {K::kAllgather, "shm_direct", &ShmDirectAllgather, &ShmDirectSupports, true},
    {K::kBroadcast, "shm_direct", &ShmDirectBroadcast, &ShmDirectSupports, true},
    {K::kReduce, "shm_direct", &ShmDirectReduce, &ShmDirectSupports, true},
    {K::kAlltoall, "shm_direct", &ShmDirectAlltoall, &ShmDirectSupports, true},
    {K::kAllreduce, "shm_express", &ShmExpressAllreduce, &ShmExpressSupports, true},
    {K::kReduceScatter, "shm_express", &ShmExpressReduceScatter, &ShmExpressSupports, true},
    {K::kAllgather, "shm_express", &ShmExpressAllgather, &ShmExpressSupports, true},
    {K::kBroadcast, "shm_express", &ShmExpressBroadcast, &ShmExpressSupports, true},
    {K::kReduce, "shm_express", &ShmExpressReduce, &ShmExpressSupports, true},
    {K::kAlltoall, "shm_express", &ShmExpressAlltoall, &ShmExpressSupports, true},
    {K::kBarrier, "shm", &ShmBarrier, &ShmDirectSupports, true},
};

// The automatic choice: for a collective, the first rule whose bounds hold and whose algorithm
// supports the input wins. `bytes` is count * element size (per rank for allgather and
// reduce_scatter outputs, per peer for alltoall, as in collective_args.h). A collective whose
// rules all fail takes its first supported algorithm in kAlgorithms.
enum class Where {
  kAny,        // any world
  kArena,      // every rank on one host, with the shared-memory arena
  kLinks,      // otherwise: messages over shm and tcp links
  kMultiNode,  // ranks on several hosts, some host with several (hierarchical.h)
};

struct AutoRule {
  CollectiveKind kind;
  Where where;
  int min_size;      // world size bounds, inclusive
  int max_size;
  size_t max_bytes;  // inclusive
  std::string_view name;
};

constexpr int kAnySize = INT32_MAX;
constexpr size_t kAnyBytes = SIZE_MAX;
constexpr size_t KiB = 1024;

// Worlds across hosts first: the tuning run (one host) never saw them. Inside each host the
// phases run on shared memory, so only one rank per host crosses the network.
constexpr AutoRule kMultiNodeRules[] = {
    {K::kAllreduce, Where::kMultiNode, 2, kAnySize, kAnyBytes, "hierarchical"},
    {K::kBroadcast, Where::kMultiNode, 2, kAnySize, kAnyBytes, "hierarchical"},
    {K::kAllgather, Where::kMultiNode, 2, kAnySize, kAnyBytes, "hierarchical"},
};

// Measured: the fastest algorithm per size, world size and Where of a tuning run.
constexpr AutoRule kTunedRules[] = {
#include "collectives/tuned_rules.inc"
    // Matches no world (min_size > max_size): keeps the array non-empty before a tuning run.
    {K::kBarrier, Where::kAny, 1, 0, 0, ""},
};

// Defaults where the tuning run has no answer (other world sizes, sizes past its largest).
constexpr AutoRule kDefaultRules[] = {
    // One host: small messages in one express exchange (where the contribution fits), the rest
    // read from each other's slots.
    {K::kAllreduce, Where::kArena, 2, kAnySize, 4 * KiB, "shm_express"},
    {K::kAllreduce, Where::kArena, 2, kAnySize, 16 * KiB, "shm_oneshot"},
    {K::kAllreduce, Where::kArena, 2, kAnySize, kAnyBytes, "shm_direct"},
    {K::kReduceScatter, Where::kArena, 2, kAnySize, 1 * KiB, "shm_express"},
    {K::kReduceScatter, Where::kArena, 2, kAnySize, kAnyBytes, "shm_direct"},
    {K::kAllgather, Where::kArena, 2, kAnySize, 4 * KiB, "shm_express"},
    {K::kAllgather, Where::kArena, 2, kAnySize, kAnyBytes, "shm_direct"},
    {K::kBroadcast, Where::kArena, 2, kAnySize, 1 * KiB, "shm_express"},
    {K::kBroadcast, Where::kArena, 2, kAnySize, kAnyBytes, "shm_direct"},
    {K::kReduce, Where::kArena, 2, kAnySize, 4 * KiB, "shm_express"},
    {K::kReduce, Where::kArena, 2, kAnySize, kAnyBytes, "shm_direct"},
    {K::kAlltoall, Where::kArena, 2, kAnySize, 1 * KiB, "shm_express"},
    {K::kAlltoall, Where::kArena, 2, kAnySize, kAnyBytes, "shm_direct"},
    {K::kBarrier, Where::kArena, 2, kAnySize, kAnyBytes, "shm"},
    // Two ranks: one exchange of everything beats two half-exchanges until bandwidth dominates.
    {K::kAllreduce, Where::kAny, 2, 2, 64 * KiB, "recursive_doubling"},
    {K::kAllreduce, Where::kAny, 2, 2, kAnyBytes, "ring"},
    {K::kAllreduce, Where::kAny, 3, kAnySize, 16 * KiB, "recursive_doubling"},
    {K::kAllreduce, Where::kAny, 3, kAnySize, 1024 * KiB - 1, "rabenseifner"},
    {K::kAllreduce, Where::kAny, 3, kAnySize, kAnyBytes, "ring"},
    {K::kReduceScatter, Where::kAny, 2, kAnySize, 64 * KiB, "recursive_halving"},
    {K::kReduceScatter, Where::kAny, 2, kAnySize, kAnyBytes, "ring"},
    {K::kAllgather, Where::kAny, 2, kAnySize, 64 * KiB, "recursive_doubling"},
    {K::kAllgather, Where::kAny, 2, kAnySize, kAnyBytes, "ring"},
    {K::kBroadcast, Where::kAny, 1, kAnySize, kAnyBytes, "binomial"},
    {K::kReduce, Where::kAny, 1, kAnySize, kAnyBytes, "binomial"},
    {K::kAlltoall, Where::kAny, 1, kAnySize, kAnyBytes, "pairwise"},
    {K::kBarrier, Where::kAny, 1, kAnySize, kAnyBytes, "dissemination"},
};

const AlgorithmInfo* Find(CollectiveKind kind, std::string_view name) {
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.kind == kind && info.name == name) return &info;
  }
  return nullptr;
}

bool Supports(const AlgorithmInfo& info, const CollectiveArgs& args, const World& world) {
  return info.supports == nullptr || info.supports(args, world);
}

bool Applies(const AutoRule& rule, const CollectiveArgs& args, const World& world, size_t bytes) {
  if (rule.kind != args.kind || world.size < rule.min_size || world.size > rule.max_size ||
      bytes > rule.max_bytes) {
    return false;
  }
  if (rule.where == Where::kMultiNode) return world.num_nodes > 1 && world.some_node_shared;
  return rule.where == Where::kAny || (rule.where == Where::kArena) == (world.arena != nullptr);
}

// Every rule with its algorithm looked up once (the tables never change), tuned rules first.
struct ResolvedRule {
  const AutoRule* rule;
  const AlgorithmInfo* info;
};
const std::vector<ResolvedRule>& ResolvedRules() {
  static const std::vector<ResolvedRule> resolved = [] {
    std::vector<ResolvedRule> out;
    for (std::span<const AutoRule> rules : {std::span<const AutoRule>(kMultiNodeRules),
                                            std::span<const AutoRule>(kTunedRules),
                                            std::span<const AutoRule>(kDefaultRules)}) {
      for (const AutoRule& rule : rules) {
        const AlgorithmInfo* info = Find(rule.kind, rule.name);
        if (info != nullptr) out.push_back({&rule, info});
      }
    }
    return out;
  }();
  return resolved;
}

const AlgorithmInfo* AutoSelect(const CollectiveArgs& args, const World& world) {
  const size_t bytes = args.count * args.element_bytes();
  for (const ResolvedRule& resolved : ResolvedRules()) {
    if (Applies(*resolved.rule, args, world, bytes) && Supports(*resolved.info, args, world)) {
      return resolved.info;
    }
  }
  for (const AlgorithmInfo& info : kAlgorithms) {
    if (info.kind == args.kind && Supports(info, args, world)) return &info;
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

Result<const AlgorithmInfo*> SelectAlgorithm(const CollectiveArgs& args, const World& world,
                                             std::string_view forced_algorithm) {
  if (!IsAuto(forced_algorithm)) {
    COHORT_RETURN_IF_ERROR(CheckAlgorithmName(forced_algorithm));
    // A name meant for another collective, or an input it cannot take: use the automatic choice.
    const AlgorithmInfo* forced = Find(args.kind, forced_algorithm);
    if (forced != nullptr && Supports(*forced, args, world)) return forced;
  }
  const AlgorithmInfo* chosen = AutoSelect(args, world);
  if (chosen == nullptr) {
    return UnimplementedError("no collective algorithm implements " +
                              std::string(CollectiveName(args.kind)));
  }
  return chosen;
}

Status CheckRuleTables() {
  for (std::span<const AutoRule> rules : {std::span<const AutoRule>(kMultiNodeRules),
                                          std::span<const AutoRule>(kTunedRules),
                                          std::span<const AutoRule>(kDefaultRules)}) {
    for (const AutoRule& rule : rules) {
      if (rule.name.empty() || Find(rule.kind, rule.name) != nullptr) continue;
      return InternalError("selector rule for " + std::string(CollectiveName(rule.kind)) +
                           " names '" + std::string(rule.name) + "', which is not one of its "
                           "algorithms; regenerate collectives/tuned_rules.inc");
    }
  }
  return Status::Ok();
}

Status RunCollective(PeerIo& io, const CollectiveArgs& args, Workspace& ws,
                     std::string_view forced_algorithm, std::string_view* chosen_name) {
  COHORT_ASSIGN_OR_RETURN(const AlgorithmInfo* algorithm,
                          SelectAlgorithm(args, WorldOf(io), forced_algorithm));
  COHORT_RETURN_IF_ERROR(detail::ValidateArgs(io, args, args.kind,
                                              std::string(algorithm->name).c_str()));
  if (io.size() == 1) {
    if (chosen_name != nullptr) *chosen_name = "local";
    return detail::RunAlone(args);
  }
  if (chosen_name != nullptr) *chosen_name = algorithm->name;
  return algorithm->run(io, args, ws);
}

}  // namespace cohort
