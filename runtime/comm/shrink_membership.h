// Who goes on after ranks are lost: the membership of a shrunken communicator.
//
// Every survivor announces itself under `prefix`; a rank counts as gone once the launcher has
// published it dead (`dead_key(r)`, cohortrun --elastic) or when `deadline` passes without it
// announcing (a frozen rank, or a launcher that publishes nothing). The first survivor to see
// every rank accounted for (or the deadline) fixes the member list with a compare-and-set, so
// every survivor gets the same list even if a straggler announces itself afterwards.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/base/deadline.h"
#include "runtime/store/store.h"

namespace cohort {

// The old ranks that form the new communicator, ascending. Fails when the store fails, or
// (kUnavailable) when this rank announced itself too late to be in the list.
Result<std::vector<int>> AgreeOnSurvivors(Store& store, const std::string& prefix, int rank,
                                          int size, const std::function<std::string(int)>& dead_key,
                                          Deadline deadline);

// "0,2,3" and back; ParseMembers rejects anything but ascending ranks below `size`.
std::string FormatMembers(const std::vector<int>& members);
Result<std::vector<int>> ParseMembers(const std::string& text, int size);

}  // namespace cohort
