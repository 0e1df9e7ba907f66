// RendezvousThroughMpi without MPI: the broadcast is faked by copying rank 0's payload, which is
// all MPI_Bcast does. Rank 0's store must accept the broadcast secret; a set COHORT_JOB_SECRET
// is used as is; a broken payload or a failed broadcast is a clear error, not a hang.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/comm/mpi_rendezvous.h"
#include "runtime/net/socket.h"
#include "runtime/store/tcp_store.h"

namespace cohort {
namespace {

using std::chrono::milliseconds;

// Rank 0 runs first and records its payload; the other ranks receive that payload.
struct FakeMpi {
  std::vector<char> sent;
  MpiBroadcast Root() {
    return [this](char* buffer, int bytes) {
      sent.assign(buffer, buffer + bytes);
      return Status::Ok();
    };
  }
  MpiBroadcast NonRoot() {
    return [this](char* buffer, int bytes) {
      if (static_cast<int>(sent.size()) != bytes) return InternalError("size mismatch");
      std::memcpy(buffer, sent.data(), sent.size());
      return Status::Ok();
    };
  }
};

TEST(MpiRendezvous, EveryRankGetsRankZerosStoreAndSecret) {
  FakeMpi mpi;
  Config config;
  config.socket_ifname = "lo";
  Result<MpiRendezvous> root = RendezvousThroughMpi(config, 0, mpi.Root());
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_NE(root->server, nullptr);
  EXPECT_EQ(root->secret.size(), 64u);  // a fresh GenerateSecret()
  for (int rank = 1; rank < 3; ++rank) {
    Result<MpiRendezvous> other = RendezvousThroughMpi(config, rank, mpi.NonRoot());
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    EXPECT_EQ(other->store_addr, root->store_addr);
    EXPECT_EQ(other->secret, root->secret);
    EXPECT_EQ(other->server, nullptr);
  }
  // The broadcast address reaches rank 0's store, which accepts the secret and no other.
  HostPort address = ParseHostPort(root->store_addr).value();
  EXPECT_EQ(address.host, "127.0.0.1");
  auto client = TcpStoreClient::Connect(address, root->secret, milliseconds(5000));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->Set("k", Bytes{1, 2, 3}).ok());
  EXPECT_FALSE(TcpStoreClient::Connect(address, std::string(64, 'a'), milliseconds(2000)).ok());
}

TEST(MpiRendezvous, AJobSecretThatIsSetIsUsed) {
  FakeMpi mpi;
  Config config;
  config.socket_ifname = "lo";
  config.secret = "the-secret-of-this-job";
  Result<MpiRendezvous> root = RendezvousThroughMpi(config, 0, mpi.Root());
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  Config other_config;  // a rank without the variable still learns it from rank 0
  Result<MpiRendezvous> other = RendezvousThroughMpi(other_config, 1, mpi.NonRoot());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->secret, "the-secret-of-this-job");
}

TEST(MpiRendezvous, BrokenPayloadOrBroadcastIsAnError) {
  Config config;
  Result<MpiRendezvous> empty = RendezvousThroughMpi(
      config, 1, [](char*, int) { return Status::Ok(); });  // nothing arrived
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no store address"), std::string::npos);
  Result<MpiRendezvous> failed = RendezvousThroughMpi(
      config, 1, [](char*, int) { return UnavailableError("MPI_Bcast failed: boom"); });
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("rendezvous through MPI: MPI_Bcast failed: boom"),
            std::string::npos)
      << failed.status().message();
}

TEST(MpiRendezvous, TooLongSecretIsRefused) {
  FakeMpi mpi;
  Config config;
  config.socket_ifname = "lo";
  config.secret = std::string(600, 'x');
  Result<MpiRendezvous> root = RendezvousThroughMpi(config, 0, mpi.Root());
  ASSERT_FALSE(root.ok());
  EXPECT_NE(root.status().message().find("COHORT_JOB_SECRET is too long"), std::string::npos);
}

}  // namespace
}  // namespace cohort
