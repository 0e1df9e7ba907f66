#include "runtime/comm/shrink_membership.h"

#include <algorithm>
#include <thread>

namespace cohort {

std::string FormatMembers(const std::vector<int>& members) {
  std::string text;
  for (int r : members) text += (text.empty() ? "" : ",") + std::to_string(r);
  return text;
}

Result<std::vector<int>> ParseMembers(const std::string& text, int size) {
  std::vector<int> members;
  if (!text.empty() && text.back() == ',') return InvalidArgumentError("bad member list '" + text + "'");
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = std::min(text.find(',', at), text.size());
    const std::string field = text.substr(at, end - at);
    if (field.empty() || field.size() > 9 ||
        !std::all_of(field.begin(), field.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return InvalidArgumentError("bad member list '" + text + "'");
    }
    const int r = std::stoi(field);
    if (r >= size || (!members.empty() && r <= members.back())) {
      return InvalidArgumentError("bad member list '" + text + "'");
    }
    members.push_back(r);
    at = end + 1;
  }
  if (members.empty()) return InvalidArgumentError("empty member list");
  return members;
}

Result<std::vector<int>> AgreeOnSurvivors(Store& store, const std::string& prefix, int rank,
                                          int size, const std::function<std::string(int)>& dead_key,
                                          Deadline deadline) {
  const std::string list_key = prefix + "members";
  COHORT_RETURN_IF_ERROR(store.Set(prefix + "alive/" + std::to_string(rank), ToBytes("1")));
  // An announcement is never taken back: each rank's is looked up until it is seen, not on
  // every poll (a poll of every rank's key every 20 ms from every survivor loads the store).
  std::vector<bool> announced(static_cast<size_t>(size), false);
  for (;;) {
    COHORT_ASSIGN_OR_RETURN(bool decided, store.Check(list_key));
    if (!decided) {
      std::vector<int> alive;
      bool all_accounted = true;
      for (int r = 0; r < size; ++r) {
        if (!announced[static_cast<size_t>(r)]) {
          COHORT_ASSIGN_OR_RETURN(bool here, store.Check(prefix + "alive/" + std::to_string(r)));
          announced[static_cast<size_t>(r)] = here;
        }
        if (announced[static_cast<size_t>(r)]) {
          alive.push_back(r);
          continue;
        }
        COHORT_ASSIGN_OR_RETURN(bool dead, store.Check(dead_key(r)));
        if (!dead) all_accounted = false;
      }
      if (!all_accounted && !deadline.expired()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      // The first proposal wins; a rank that reads another's list below uses that one.
      COHORT_RETURN_IF_ERROR(store.CompareSet(list_key, Bytes{}, ToBytes(FormatMembers(alive))).status());
    }
    COHORT_ASSIGN_OR_RETURN(Bytes text, store.Get(list_key, std::chrono::milliseconds(1000)));
    COHORT_ASSIGN_OR_RETURN(std::vector<int> members, ParseMembers(ToString(text), size));
    if (!std::binary_search(members.begin(), members.end(), rank)) {
      return UnavailableError("rank " + std::to_string(rank) + " announced itself after the " +
                              "survivors had agreed on ranks " + FormatMembers(members) +
                              " (it was too slow: COHORT_TIMEOUT passed, or it was frozen)");
    }
    return members;
  }
}

}  // namespace cohort
