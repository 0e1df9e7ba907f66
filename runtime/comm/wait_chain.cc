#include "runtime/comm/wait_chain.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>

namespace cohort {

namespace {

std::string Key(const std::string& prefix, int rank) { return prefix + std::to_string(rank); }

// A published record: "PEER|OP" (the first rank it waited for, and its operation).
struct Record {
  int peer = -1;
  std::string op;
};

bool Lookup(Store& store, const std::string& prefix, int rank, Record* out) {
  Result<bool> present = store.Check(Key(prefix, rank));
  if (!present.ok() || !*present) return false;
  Result<Bytes> value = store.Get(Key(prefix, rank), std::chrono::milliseconds(500));
  if (!value.ok()) return false;
  const std::string text = ToString(*value);
  const size_t bar = text.find('|');
  if (bar == std::string::npos || bar == 0 || bar > 9) return false;
  for (size_t i = 0; i < bar; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  out->peer = std::stoi(text.substr(0, bar));
  out->op = text.substr(bar + 1);
  return true;
}

}  // namespace

std::vector<int> RanksNamedIn(const std::string& text) {
  std::vector<int> ranks;
  for (size_t at = text.find("rank "); at != std::string::npos; at = text.find("rank ", at + 5)) {
    size_t p = at + 5, end = p;
    while (end < text.size() && end - p < 9 && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    const bool longer = end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]));
    if (end == p || longer || (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1])))) continue;
    const int r = std::stoi(text.substr(p, end - p));
    if (std::find(ranks.begin(), ranks.end(), r) == ranks.end()) ranks.push_back(r);
  }
  return ranks;
}

std::string ExplainWaitChain(Store& store, const std::string& prefix, int rank,
                             const std::vector<int>& awaited, const std::string& op,
                             std::chrono::milliseconds settle) {
  if (awaited.empty()) return "";
  if (!store.Set(Key(prefix, rank), ToBytes(std::to_string(awaited.front()) + "|" + op)).ok()) {
    return "";
  }
  std::this_thread::sleep_for(settle);
  std::string chain = "wait chain: rank " + std::to_string(rank) + " waits for rank " +
                      std::to_string(awaited.front()) + " (" + op + ")";
  std::set<int> seen = {rank};
  int at = awaited.front();
  for (size_t hops = 0; hops < 64; ++hops) {
    Record next;
    if (!Lookup(store, prefix, at, &next)) {
      return chain + ", which reported no timeout: rank " + std::to_string(at) +
             " is likely stopped, hung or busy outside cohort (a debugger, a data loader, a "
             "long step on one rank)";
    }
    chain += ", which waits for rank " + std::to_string(next.peer) + " (" + next.op + ")";
    if (!seen.insert(at).second || seen.count(next.peer) == 1) {
      return chain + ": these ranks wait for each other, so they likely called different "
                     "collectives or the same ones in a different order";
    }
    at = next.peer;
  }
  return chain;
}

}  // namespace cohort
