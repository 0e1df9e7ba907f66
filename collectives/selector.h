// The selector: picks an algorithm per call from the collective, the message size and the world
// size, and runs it. Everything it knows sits in two tables in selector.cc: the algorithms (name,
// collective, entry point, an optional "supports" predicate) and the automatic choice (ordered
// candidates per collective with byte and world-size bounds).
//
// UCC style: a candidate whose predicate refuses the input (e.g. a power-of-two-only algorithm
// on 6 ranks) is skipped and the next one tried. Every rank decides from the same arguments, so
// all ranks pick the same algorithm. A forced name (COHORT_ALGO) that does not apply to this
// collective or input falls back to the automatic choice; a name no algorithm has is an
// InvalidArgumentError listing the valid ones.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

using AlgorithmFn = Status (*)(PeerIo& io, const CollectiveArgs& args, Workspace& ws);
using AlgorithmSupportsFn = bool (*)(const CollectiveArgs& args, int size);

struct AlgorithmInfo {
  CollectiveKind kind;
  std::string_view name;          // what COHORT_ALGO accepts: "ring", "rabenseifner", ...
  AlgorithmFn run;
  AlgorithmSupportsFn supports;   // nullptr: supports every input of its collective
};

// Every algorithm, for every collective.
std::span<const AlgorithmInfo> AllAlgorithms();

// "auto, ring, recursive_doubling, ..." (each distinct name once), for help and error messages.
std::string AlgorithmNamesForHelp();
// Ok for "auto", "" and any algorithm name; InvalidArgumentError listing the names otherwise.
Status CheckAlgorithmName(std::string_view name);

// The algorithm that RunCollective would run for args on a world of `size` ranks, or an
// InvalidArgumentError for an unknown forced name. World size 1 still reports an algorithm.
Result<const AlgorithmInfo*> SelectAlgorithm(const CollectiveArgs& args, int size,
                                             std::string_view forced_algorithm);

// Validates args, picks an algorithm ("auto" or a forced name) and runs it. *chosen_name (when
// not null) receives the algorithm's name, or "local" when the world has one rank.
Status RunCollective(PeerIo& io, const CollectiveArgs& args, Workspace& ws,
                     std::string_view forced_algorithm, std::string* chosen_name);

}  // namespace cohort
