// WatchedStore: a Store whose blocking waits (Get, Wait) end early once `watch_key` exists in
// the base store, with kAborted and that key's value as the reason. The communicator wraps the
// job store in one watching "cohort/abort", so a rank that waits for a peer during set-up learns
// at once that the peer died (the launcher publishes that key) instead of waiting out
// COHORT_CONNECT_TIMEOUT.
#pragma once

#include <memory>
#include <string>

#include "runtime/store/store.h"

namespace cohort {

class WatchedStore final : public Store {
 public:
  WatchedStore(std::shared_ptr<Store> base, std::string watch_key)
      : base_(std::move(base)), watch_key_(std::move(watch_key)) {}

  Status Set(const std::string& key, const Bytes& value) override { return base_->Set(key, value); }
  Result<Bytes> Get(const std::string& key, std::chrono::milliseconds timeout) override;
  Result<int64_t> Add(const std::string& key, int64_t delta) override {
    return base_->Add(key, delta);
  }
  Result<Bytes> CompareSet(const std::string& key, const Bytes& expected,
                           const Bytes& desired) override {
    return base_->CompareSet(key, expected, desired);
  }
  Result<bool> Delete(const std::string& key) override { return base_->Delete(key); }
  Result<bool> Check(const std::string& key) override { return base_->Check(key); }
  Status Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;

 private:
  // kAborted with the watched key's value if it exists, Ok otherwise.
  Status Watched();

  std::shared_ptr<Store> base_;
  std::string watch_key_;
};

}  // namespace cohort
