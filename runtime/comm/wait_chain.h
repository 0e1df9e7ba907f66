// Wait chains: which rank a timed-out collective is really waiting for.
//
// When one rank stops (SIGSTOP, a debugger, a hang outside cohort), its neighbours time out
// waiting for it, and the ranks waiting for those neighbours time out too, each naming only the
// peer it waited for. Each rank that times out publishes whom it waited for; following those
// records from this rank leads to the rank that published nothing (the one that is stuck), or
// round a cycle (ranks waiting for each other: they called different collectives).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "runtime/store/store.h"

namespace cohort {

// The ranks named "rank N" in `text` (a timeout's "still waiting for ..." part), in order.
std::vector<int> RanksNamedIn(const std::string& text);

// Publishes "rank `rank` waits for `awaited` in `op`" under `prefix`, waits `settle` for the
// other ranks that time out at about the same moment, and returns one line describing the
// chain, e.g. "wait chain: rank 0 waits for rank 2 (allreduce #10), which waits for rank 3
// (allreduce #6), which reported no timeout: rank 3 is likely stopped, hung or busy outside
// cohort". Returns "" when the store cannot be used (it may be what failed).
std::string ExplainWaitChain(Store& store, const std::string& prefix, int rank,
                             const std::vector<int>& awaited, const std::string& op,
                             std::chrono::milliseconds settle);

}  // namespace cohort
