// CommunicatorImpl::shrink: the survivors of lost ranks make a smaller communicator.
#include "runtime/comm/communicator_impl.h"

#include <algorithm>

#include "runtime/base/logging.h"
#include "runtime/comm/shrink_membership.h"

namespace cohort {

std::unique_ptr<Communicator> CommunicatorImpl::shrink() {
  // Every survivor calls shrink() once per loss, so the count names the same round everywhere.
  const int round = ++shrinks_;
  const std::string prefix = "comm/" + name_ + "/shrink" + std::to_string(round) + "/";
  Result<std::vector<int>> members = AgreeOnSurvivors(
      *root_store_, prefix, rank_, size_,
      [](int r) { return std::string(kDeadRankKeyPrefix) + std::to_string(r); },
      Deadline::After(config_.timeout));
  if (!members.ok()) {
    ThrowIfError(members.status().WithContext("shrink on rank " + std::to_string(rank_) + ": "));
  }
  Identity child;
  child.size = static_cast<int>(members->size());
  child.rank = static_cast<int>(std::lower_bound(members->begin(), members->end(), rank_) -
                                members->begin());
  child.scheme = "shrink";
  COHORT_LOG(kWarn) << "communicator '" << name_ << "': rank " << rank_ << " goes on as rank "
                    << child.rank << " of " << child.size << " (survivors: old ranks "
                    << FormatMembers(*members) << ")";
  return ValueOrThrow(Make(config_, child, root_store_, name_ + ".shrink" + std::to_string(round)));
}

}  // namespace cohort
