#include "runtime/store/watched_store.h"

#include <algorithm>

#include "runtime/base/deadline.h"

namespace cohort {

namespace {
// Waits are cut into slices this long; between slices the watched key is checked.
constexpr std::chrono::milliseconds kSlice{250};
}  // namespace

Status WatchedStore::Watched() {
  Result<bool> present = base_->Check(watch_key_);
  if (!present.ok()) return present.status();
  if (!*present) return Status::Ok();
  Result<Bytes> reason = base_->Get(watch_key_, kSlice);
  return AbortedError("the job is stopping because " +
                      (reason.ok() ? ToString(*reason) : std::string("another rank failed")));
}

Status WatchedStore::Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  Deadline deadline = Deadline::After(timeout);
  while (true) {
    auto slice = std::min(kSlice, std::chrono::milliseconds(deadline.remaining_ms()));
    Status waited = base_->Wait(keys, slice);
    if (waited.code() != StatusCode::kDeadlineExceeded) return waited;
    COHORT_RETURN_IF_ERROR(Watched());
    if (deadline.expired()) {
      // The base store's message names the missing keys; say how long we really waited.
      return DeadlineExceededError(waited.message() + " (gave up after " +
                                   std::to_string(timeout.count()) + " ms)");
    }
  }
}

Result<Bytes> WatchedStore::Get(const std::string& key, std::chrono::milliseconds timeout) {
  COHORT_RETURN_IF_ERROR(Wait({key}, timeout));
  return base_->Get(key, kSlice);
}

}  // namespace cohort
