// The TCP rendezvous store: a server (run by cohortrun, or by rank 0 under torchrun-style
// launches) and a client implementing Store. Every connection first passes the job-secret
// handshake (auth.h). The server is one thread polling non-blocking sockets; frames are bounded
// (kMaxStoreKeyBytes, kMaxStoreValueBytes); garbage, oversize frames, clients that stall in the
// handshake or mid-frame, and clients that vanish are dropped without disturbing the others.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "runtime/net/socket.h"
#include "runtime/store/store.h"

namespace cohort {

class TcpStoreServer {
 public:
  struct Options {
    std::string bind_host = "0.0.0.0";  // an interface address, or all
    uint16_t port = 0;                  // 0: any free port
    std::string secret;                 // required, non-empty
    // A client that has not finished the handshake, or a frame, within this time is dropped.
    std::chrono::milliseconds stall_timeout{10'000};
  };

  // Binds, listens and starts the serving thread.
  static Result<std::unique_ptr<TcpStoreServer>> Start(const Options& options);
  ~TcpStoreServer();  // stops the thread and closes every connection

  uint16_t port() const;
  // Connections dropped for bad auth, garbage, oversize frames or stalling (for tests and logs).
  size_t rejected_connections() const;
  // Sets a key directly, without a connection (the launcher publishes job-wide facts).
  void SetLocal(const std::string& key, const Bytes& value);
  // Reads a key directly (nullopt when it is not set).
  std::optional<Bytes> GetLocal(const std::string& key) const;

  struct Impl;

 private:
  explicit TcpStoreServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class TcpStoreClient final : public Store {
 public:
  // Connects (retrying until `connect_timeout` while the server starts) and authenticates.
  static Result<std::unique_ptr<TcpStoreClient>> Connect(
      const HostPort& server, const std::string& secret,
      std::chrono::milliseconds connect_timeout);
  ~TcpStoreClient() override;

  Status Set(const std::string& key, const Bytes& value) override;
  Result<Bytes> Get(const std::string& key, std::chrono::milliseconds timeout) override;
  Result<int64_t> Add(const std::string& key, int64_t delta) override;
  Result<Bytes> CompareSet(const std::string& key, const Bytes& expected,
                           const Bytes& desired) override;
  Result<bool> Delete(const std::string& key) override;
  Result<bool> Check(const std::string& key) override;
  Status Wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;

  const HostPort& server() const { return server_; }

 private:
  TcpStoreClient(HostPort server, UniqueFd fd);
  struct Reply;
  // One request, one reply, serialized by mutex_ (clients are shared between threads).
  Result<Reply> Call(const Bytes& request, std::chrono::milliseconds server_wait);

  HostPort server_;
  std::mutex mutex_;
  UniqueFd fd_;
  bool broken_ = false;
};

}  // namespace cohort
