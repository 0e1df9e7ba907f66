// Store: the rendezvous key-value interface that ranks use to find each other. Implementations:
// MemoryStore (threads of one process, for tests), TcpStoreClient (talks to a TcpStoreServer run
// by cohortrun or rank 0), PrefixStore (a namespace inside another store, e.g. per communicator).
//
// Thread safety: every implementation may be called from several threads at once.
// Blocking: Get and Wait block until the keys exist or `timeout` passes (kDeadlineExceeded,
// naming the keys). Nothing blocks forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"

namespace cohort {

using Bytes = std::vector<uint8_t>;

inline Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Limits every store enforces, so that no client can make the server allocate without bound.
inline constexpr size_t kMaxStoreKeyBytes = 4096;
inline constexpr size_t kMaxStoreValueBytes = 16u << 20;

class Store {
 public:
  virtual ~Store() = default;

  virtual Status Set(const std::string& key, const Bytes& value) = 0;
  // Waits for `key` to exist, then returns its value.
  virtual Result<Bytes> Get(const std::string& key, std::chrono::milliseconds timeout) = 0;
  // Adds `delta` to the integer stored at key (absent: 0) and returns the new value.
  virtual Result<int64_t> Add(const std::string& key, int64_t delta) = 0;
  // Sets key to `desired` if its current value is `expected` (an empty `expected` matches an
  // absent key). Returns the value after the call.
  virtual Result<Bytes> CompareSet(const std::string& key, const Bytes& expected,
                                   const Bytes& desired) = 0;
  // Returns true if the key existed.
  virtual Result<bool> Delete(const std::string& key) = 0;
  // Returns whether the key exists now, without waiting.
  virtual Result<bool> Check(const std::string& key) = 0;
  // Waits until every key exists.
  virtual Status Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) = 0;

  // Blocks until `world_size` callers have entered barrier `name`. Each name is used once per
  // job (callers add a generation number); built on Add and Wait, so every store has it.
  Status Barrier(const std::string& name, int world_size, std::chrono::milliseconds timeout);
};

// A view of `base` where every key is prefixed with `prefix` + "/".
class PrefixStore final : public Store {
 public:
  PrefixStore(std::string prefix, std::shared_ptr<Store> base)
      : prefix_(std::move(prefix) + "/"), base_(std::move(base)) {}

  Status Set(const std::string& key, const Bytes& value) override;
  Result<Bytes> Get(const std::string& key, std::chrono::milliseconds timeout) override;
  Result<int64_t> Add(const std::string& key, int64_t delta) override;
  Result<Bytes> CompareSet(const std::string& key, const Bytes& expected,
                           const Bytes& desired) override;
  Result<bool> Delete(const std::string& key) override;
  Result<bool> Check(const std::string& key) override;
  Status Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;

 private:
  std::string prefix_;
  std::shared_ptr<Store> base_;
};

// In-process store (mutex + condition variable) for ranks that are threads of one process.
class MemoryStore final : public Store {
 public:
  MemoryStore();
  ~MemoryStore() override;

  Status Set(const std::string& key, const Bytes& value) override;
  Result<Bytes> Get(const std::string& key, std::chrono::milliseconds timeout) override;
  Result<int64_t> Add(const std::string& key, int64_t delta) override;
  Result<Bytes> CompareSet(const std::string& key, const Bytes& expected,
                           const Bytes& desired) override;
  Result<bool> Delete(const std::string& key) override;
  Result<bool> Check(const std::string& key) override;
  Status Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cohort
