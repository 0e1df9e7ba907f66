// Shared fixture for the TCP store tests: a server on 127.0.0.1, port 0, with a fresh secret;
// authenticated and raw client connections; bounded waits for the server to notice things.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "runtime/store/auth.h"
#include "runtime/store/tcp_store.h"

namespace cohort::testing {

using namespace std::chrono_literals;

class TcpStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(10'000ms); }

  void StartServer(std::chrono::milliseconds stall_timeout) {
    server_.reset();
    secret_ = GenerateSecret().value();
    TcpStoreServer::Options options;
    options.bind_host = "127.0.0.1";
    options.secret = secret_;
    options.stall_timeout = stall_timeout;
    auto server = TcpStoreServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    address_ = HostPort{"127.0.0.1", server_->port()};
  }

  std::unique_ptr<TcpStoreClient> NewClient() {
    auto client = TcpStoreClient::Connect(address_, secret_, 5'000ms);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // A TCP connection that has not authenticated.
  UniqueFd RawConnection() {
    auto fd = cohort::Connect(address_, Deadline::After(5'000ms));
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return fd.ok() ? std::move(fd).value() : UniqueFd();
  }

  // A TCP connection past the handshake, on which the test writes frames by hand.
  UniqueFd AuthenticatedConnection() {
    UniqueFd fd = RawConnection();
    Status auth = AuthenticateAsClient(fd.get(), secret_, "store", Deadline::After(5'000ms),
                                       "store");
    EXPECT_TRUE(auth.ok()) << auth.ToString();
    return fd;
  }

  // True once the server closed `fd` (EOF or reset), within `timeout`.
  static bool ClosedByServer(int fd, std::chrono::milliseconds timeout) {
    Deadline deadline = Deadline::After(timeout);
    while (!deadline.expired()) {
      if (!WaitReadable(fd, deadline, "server").ok()) return false;
      char buffer[4096];
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
    return false;
  }

  bool RejectedReaches(size_t count, std::chrono::milliseconds timeout) {
    Deadline deadline = Deadline::After(timeout);
    while (server_->rejected_connections() < count && !deadline.expired()) {
      std::this_thread::sleep_for(2ms);
    }
    return server_->rejected_connections() >= count;
  }

  // A fresh client can still do a round trip.
  void ExpectServerHealthy() {
    auto client = NewClient();
    ASSERT_NE(client, nullptr);
    const std::string key = "healthy/" + std::to_string(++health_checks_);
    ASSERT_TRUE(client->Set(key, ToBytes("ok")).ok());
    auto got = client->Get(key, 1'000ms);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(ToString(*got), "ok");
  }

  std::string secret_;
  std::unique_ptr<TcpStoreServer> server_;
  HostPort address_;
  int health_checks_ = 0;
};

}  // namespace cohort::testing
