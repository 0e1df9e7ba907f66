// NcclComm without a GPU: argument checks, the clear error on a host without a CUDA device, and
// the whole non-blocking protocol (polling ncclInProgress, deadlines, aborts, error translation,
// finalize) driven by a scriptable fake libnccl (fake_scripted_nccl.c) through NcclComm::Init.
// The collectives' data paths are tested on a GPU in tests/gpu/nccl.
#include "collectives/nccl/nccl_comm.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "tests/unit/nccl/fake_scripted_nccl.h"

namespace cohort {
namespace {

std::shared_ptr<const NcclLibrary> MachineNccl() {
  auto lib = NcclLibrary::Load("/usr/local/cuda/lib/libnccl.so.2");
  return lib.ok() ? lib.value() : nullptr;
}

TEST(NcclComm, RefusesMissingLibraryAndBadRanks) {
  MemoryStore store;
  auto no_lib = NcclComm::Create(nullptr, store, "nccl/0", 0, 1, 0, Deadline::After(std::chrono::seconds(1)));
  EXPECT_EQ(no_lib.status().code(), StatusCode::kInvalidArgument);

  auto lib = MachineNccl();
  if (lib == nullptr) GTEST_SKIP() << "no NCCL on this machine";
  for (auto [rank, size] : {std::pair{2, 2}, std::pair{-1, 2}, std::pair{0, 0}}) {
    auto comm = NcclComm::Create(lib, store, "nccl/0", rank, size, 0,
                                 Deadline::After(std::chrono::seconds(1)));
    ASSERT_FALSE(comm.ok());
    EXPECT_EQ(comm.status().code(), StatusCode::kInvalidArgument) << comm.status().ToString();
    EXPECT_NE(comm.status().message().find(std::to_string(rank)), std::string::npos);
  }
}

TEST(NcclComm, NoDeviceIsAClearErrorNotAHang) {
  if (cuda::DeviceCount() > 0) GTEST_SKIP() << "this host has a CUDA device";
  auto lib = MachineNccl();
  if (lib == nullptr) GTEST_SKIP() << "no NCCL on this machine";
  MemoryStore store;
  // Rank 1 would otherwise wait for rank 0's id; the device check comes first.
  auto comm = NcclComm::Create(lib, store, "nccl/0", 1, 2, 0,
                               Deadline::After(std::chrono::seconds(30)));
  ASSERT_FALSE(comm.ok());
  // The code is cuda::CheckDevice's; the message must say which rank lacks a device.
  EXPECT_NE(comm.status().message().find("rank 1"), std::string::npos) << comm.status().message();
  EXPECT_NE(comm.status().message().find("CUDA"), std::string::npos) << comm.status().message();
  // Nothing was published for the others.
  auto published = store.Check("nccl/0");
  ASSERT_TRUE(published.ok());
  EXPECT_FALSE(*published);
}


using std::chrono::milliseconds;
using std::chrono::seconds;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ScriptedNcclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto lib = NcclLibrary::LoadFirst({COHORT_FAKE_SCRIPTED_NCCL});
    ASSERT_TRUE(lib.ok()) << lib.status().ToString();
    lib_ = lib.value();
    // The same loaded object as lib_'s (dlopen counts references), so the same script.
    void* handle = dlopen(COHORT_FAKE_SCRIPTED_NCCL, RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(handle, nullptr) << dlerror();
    script_ = reinterpret_cast<FakeNcclScriptFn>(dlsym(handle, "fake_nccl_script"))();
    reinterpret_cast<FakeNcclResetFn>(dlsym(handle, "fake_nccl_reset"))();
    dlclose(handle);
  }

  std::unique_ptr<NcclComm> MakeComm(int rank = 0, int size = 1,
                                     milliseconds call_timeout = seconds(10)) {
    ncclUniqueId id{};
    auto comm = NcclComm::Init(lib_, id, rank, size, 0, Deadline::After(seconds(5)), call_timeout);
    EXPECT_TRUE(comm.ok()) << comm.status().ToString();
    return comm.ok() ? std::move(comm).value() : nullptr;
  }

  std::shared_ptr<const NcclLibrary> lib_;
  FakeNcclScript* script_ = nullptr;
};

TEST_F(ScriptedNcclTest, InitIsNonBlockingAndPolledUntilReady) {
  script_->init_result = ncclInProgress;
  script_->init_polls = 3;
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(script_->config_blocking, 0);
  EXPECT_EQ(script_->inits, 1);
  EXPECT_EQ(script_->polls, 4);  // three "in progress", then ready
  EXPECT_FALSE(comm->aborted());
}

TEST_F(ScriptedNcclTest, InitDeadlineAbortsAndNamesWhoWaited) {
  script_->init_result = ncclInProgress;
  script_->init_polls = -1;  // a rank never joins
  ncclUniqueId id{};
  auto comm = NcclComm::Init(lib_, id, 1, 3, 2, Deadline::After(milliseconds(100)));
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kDeadlineExceeded);
  const std::string& message = comm.status().message();
  EXPECT_TRUE(Contains(message, "rank 1 of 3")) << message;
  EXPECT_TRUE(Contains(message, "cuda:2")) << message;
  EXPECT_TRUE(Contains(message, "did not join")) << message;
  EXPECT_EQ(script_->aborts, 1);
}

TEST_F(ScriptedNcclTest, InitFailureIsTranslatedAndCleanedUp) {
  script_->init_result = ncclSystemError;
  ncclUniqueId id{};
  auto comm = NcclComm::Init(lib_, id, 0, 2, 0, Deadline::After(seconds(5)));
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(comm.status().message(), "communicator init")) << comm.status().message();
  EXPECT_TRUE(Contains(comm.status().message(), "ncclSystemError")) << comm.status().message();
  EXPECT_EQ(script_->aborts, 1);  // the half-made communicator is not leaked
}

TEST_F(ScriptedNcclTest, CollectivesPassNcclTypesOpsCountsAndRoots) {
  auto comm = MakeComm(1, 4);
  ASSERT_NE(comm, nullptr);
  ASSERT_TRUE(comm->AllReduce(nullptr, nullptr, 5, DataType::kBF16, ReduceOp::kAvg, nullptr).ok());
  EXPECT_EQ(script_->last_type, ncclBfloat16);
  EXPECT_EQ(script_->last_op, ncclAvg);
  EXPECT_EQ(script_->last_count, 5u);
  ASSERT_TRUE(comm->ReduceScatter(nullptr, nullptr, 6, DataType::kI64, ReduceOp::kMin, nullptr).ok());
  EXPECT_EQ(script_->last_type, ncclInt64);
  EXPECT_EQ(script_->last_op, ncclMin);
  EXPECT_EQ(script_->last_count, 6u);
  ASSERT_TRUE(comm->AllGather(nullptr, nullptr, 7, DataType::kU8, nullptr).ok());
  EXPECT_EQ(script_->last_type, ncclUint8);
  ASSERT_TRUE(comm->Broadcast(nullptr, nullptr, 8, DataType::kF16, 3, nullptr).ok());
  EXPECT_EQ(script_->last_peer, 3);
  ASSERT_TRUE(comm->Reduce(nullptr, nullptr, 9, DataType::kF64, ReduceOp::kProd, 2, nullptr).ok());
  EXPECT_EQ(script_->last_op, ncclProd);
  EXPECT_EQ(script_->last_peer, 2);
  ASSERT_TRUE(comm->Send(nullptr, 3, DataType::kI8, 0, nullptr).ok());
  EXPECT_EQ(script_->last_peer, 0);
  EXPECT_EQ(script_->collectives, 5);
  EXPECT_EQ(script_->sends, 1);
}

TEST_F(ScriptedNcclTest, BadArgumentsNeverReachNccl) {
  auto comm = MakeComm(0, 2);
  ASSERT_NE(comm, nullptr);
  Status avg = comm->AllReduce(nullptr, nullptr, 1, DataType::kI32, ReduceOp::kAvg, nullptr);
  EXPECT_EQ(avg.code(), StatusCode::kInvalidArgument);
  Status root = comm->Broadcast(nullptr, nullptr, 1, DataType::kF32, 2, nullptr);
  EXPECT_EQ(root.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(root.message(), "root 2")) << root.message();
  Status peer = comm->Recv(nullptr, 1, DataType::kF32, -1, nullptr);
  EXPECT_EQ(peer.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(script_->collectives + script_->recvs, 0);
  EXPECT_FALSE(comm->aborted());
}

TEST_F(ScriptedNcclTest, InProgressCallIsPolledToCompletion) {
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  script_->call_result = ncclInProgress;
  script_->call_polls = 5;
  int polls_before = script_->polls;
  EXPECT_TRUE(comm->AllReduce(nullptr, nullptr, 1, DataType::kF32, ReduceOp::kSum, nullptr).ok());
  EXPECT_EQ(script_->polls - polls_before, 6);
  EXPECT_FALSE(comm->aborted());
}

TEST_F(ScriptedNcclTest, InProgressCallTimesOutAndAborts) {
  auto comm = MakeComm(0, 1, milliseconds(50));
  ASSERT_NE(comm, nullptr);
  script_->call_result = ncclInProgress;
  script_->call_polls = -1;
  Status status = comm->AllGather(nullptr, nullptr, 3, DataType::kF32, nullptr);
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "allgather of 3 f32")) << status.message();
  EXPECT_TRUE(comm->aborted());
  EXPECT_EQ(script_->aborts, 1);
  // Later calls fail fast, saying what ended the communicator.
  Status next = comm->AllReduce(nullptr, nullptr, 1, DataType::kF32, ReduceOp::kSum, nullptr);
  EXPECT_EQ(next.code(), StatusCode::kAborted);
  EXPECT_TRUE(Contains(next.message(), "allgather")) << next.message();
  EXPECT_EQ(script_->collectives, 1);
}

TEST_F(ScriptedNcclTest, InvalidArgumentKeepsTheCommunicator) {
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  script_->call_result = ncclInvalidArgument;
  Status status = comm->AllReduce(nullptr, nullptr, 1, DataType::kF32, ReduceOp::kSum, nullptr);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(comm->aborted());
  script_->call_result = ncclSuccess;
  EXPECT_TRUE(comm->AllReduce(nullptr, nullptr, 1, DataType::kF32, ReduceOp::kSum, nullptr).ok());
}

TEST_F(ScriptedNcclTest, RemoteErrorAbortsAndKeepsNcclsText) {
  auto comm = MakeComm(2, 3);
  ASSERT_NE(comm, nullptr);
  script_->call_result = ncclRemoteError;
  script_->last_error = "peer 0 hung up";
  Status status = comm->Send(nullptr, 4, DataType::kF32, 0, nullptr);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  const std::string& message = status.message();
  EXPECT_TRUE(Contains(message, "send of 4 f32 (16 bytes) with rank 0")) << message;
  EXPECT_TRUE(Contains(message, "on rank 2")) << message;
  EXPECT_TRUE(Contains(message, "peer rank failed")) << message;
  EXPECT_TRUE(Contains(message, "fake: remote process exited")) << message;
  EXPECT_TRUE(Contains(message, "peer 0 hung up")) << message;
  EXPECT_TRUE(comm->aborted());
  EXPECT_EQ(script_->aborts, 1);
}

TEST_F(ScriptedNcclTest, AsyncErrorAborts) {
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  EXPECT_TRUE(comm->AsyncError().ok());
  script_->async_error = ncclRemoteError;
  Status status = comm->AsyncError();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(status.message(), "asynchronous error")) << status.message();
  EXPECT_TRUE(comm->aborted());
  EXPECT_EQ(comm->AsyncError().code(), StatusCode::kAborted);
  EXPECT_EQ(script_->aborts, 1);
}

TEST_F(ScriptedNcclTest, AbortFromAnotherThreadStopsAPollingCall) {
  auto comm = MakeComm(0, 1, seconds(60));
  ASSERT_NE(comm, nullptr);
  script_->call_result = ncclInProgress;
  script_->call_polls = -1;
  auto start = Clock::now();
  std::thread watchdog([&comm] {
    std::this_thread::sleep_for(milliseconds(50));
    comm->Abort();
  });
  Status status = comm->AllReduce(nullptr, nullptr, 1, DataType::kF32, ReduceOp::kSum, nullptr);
  watchdog.join();
  EXPECT_EQ(status.code(), StatusCode::kAborted) << status.ToString();
  EXPECT_LT(Clock::now() - start, seconds(10));
  EXPECT_EQ(script_->aborts, 1);
}

TEST_F(ScriptedNcclTest, AbortIsIdempotentAndSkipsFinalize) {
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back([&comm] { comm->Abort(); });
  for (auto& t : threads) t.join();
  comm->Abort();
  comm.reset();
  EXPECT_EQ(script_->aborts, 1);
  EXPECT_EQ(script_->finalizes, 0);
  EXPECT_EQ(script_->destroys, 0);
}

TEST_F(ScriptedNcclTest, DestructorFinalizesThenDestroys) {
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  script_->finalize_polls = 3;
  comm.reset();
  EXPECT_EQ(script_->finalizes, 1);
  EXPECT_EQ(script_->destroys, 1);
  EXPECT_EQ(script_->aborts, 0);
}

TEST_F(ScriptedNcclTest, DestructorAbortsWhenFinalizeHangs) {
  auto comm = MakeComm(0, 1, milliseconds(50));
  ASSERT_NE(comm, nullptr);
  script_->finalize_polls = -1;
  comm.reset();
  EXPECT_EQ(script_->finalizes, 1);
  EXPECT_EQ(script_->destroys, 0);
  EXPECT_EQ(script_->aborts, 1);
}

TEST_F(ScriptedNcclTest, AllToAllIsOneGroupOfSendAndRecvPerPeer) {
  auto comm = MakeComm(1, 3);
  ASSERT_NE(comm, nullptr);
  script_->call_result = ncclInProgress;  // the group's launch runs on in the background
  script_->call_polls = 2;
  std::vector<float> send(12), recv(12);
  ASSERT_TRUE(comm->AllToAll(send.data(), recv.data(), 4, DataType::kF32, nullptr).ok());
  EXPECT_EQ(script_->sends, 3);
  EXPECT_EQ(script_->recvs, 3);
  EXPECT_EQ(script_->peer_mask_sent, 0b111u);
  EXPECT_EQ(script_->peer_mask_received, 0b111u);
  EXPECT_EQ(script_->group_starts, 1);
  EXPECT_EQ(script_->group_ends, 1);
  EXPECT_EQ(script_->group_depth, 0);
  // Partly overlapping buffers can be neither in place nor out of place.
  Status overlap = comm->AllToAll(send.data(), send.data() + 1, 4, DataType::kF32, nullptr);
  EXPECT_EQ(overlap.code(), StatusCode::kInvalidArgument);
}

TEST_F(ScriptedNcclTest, GroupEndBalancesEvenAfterAbort) {
  auto comm = MakeComm();
  ASSERT_NE(comm, nullptr);
  ASSERT_TRUE(comm->GroupStart().ok());
  comm->Abort();
  EXPECT_EQ(comm->GroupEnd().code(), StatusCode::kAborted);
  EXPECT_EQ(script_->group_depth, 0);  // NCCL's per-thread group state is not left open
}

}  // namespace
}  // namespace cohort
