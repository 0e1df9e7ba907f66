// NcclComm's failure paths on a real GPU: WaitEvent timing out or cancelled (the communicator is
// aborted, later calls fail fast), Abort idempotent from several threads, and init that ends at
// its deadline when a rank never joins. Nothing here may hang.
// gpu_nccl is built wherever CUDA is; without nccl.h at build time there is nothing to test.
#include "cohort/build_config.h"
#if COHORT_HAVE_NCCL
#include "tests/gpu/nccl/nccl_gpu_harness.h"

namespace cohort::nccl_test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Enqueues a few milliseconds of NCCL work (large out-of-place allreduces) and records `event`
// after it, so that a wait right away finds the event not yet complete.
void EnqueueLongWork(Rank& r, const cuda::DeviceBuffer& a, cuda::DeviceBuffer& b,
                     cuda::Event& event) {
  const size_t count = a.bytes() / sizeof(float);
  for (int i = 0; i < 24; ++i) {
    ASSERT_TRUE(r.comm->AllReduce(a.data(), b.data(), count, DataType::kF32, ReduceOp::kSum,
                                  r.stream.get()).ok());
  }
  ASSERT_TRUE(event.Record(r.stream.get()).ok());
}

void ExpectAbortedAfterwards(Rank& r) {
  EXPECT_TRUE(r.comm->aborted());
  Status next = r.comm->AllReduce(nullptr, nullptr, 1, DataType::kF32, ReduceOp::kSum,
                                  r.stream.get());
  EXPECT_EQ(next.code(), StatusCode::kAborted) << next.ToString();
  EXPECT_EQ(r.comm->AsyncError().code(), StatusCode::kAborted);
  r.comm->Abort();  // again: a no-op
}

TEST_F(NcclGpuTest, WaitEventTimeoutAbortsTheCommunicator) {
  auto ranks = MakeRanks(1);
  Rank& r = ranks[0];
  auto a = cuda::DeviceBuffer::Allocate(r.device, 256u << 20);
  auto b = cuda::DeviceBuffer::Allocate(r.device, 256u << 20);
  auto event = cuda::Event::Create(r.device);
  ASSERT_TRUE(a.ok() && b.ok() && event.ok());
  EnqueueLongWork(r, *a, *b, *event);
  Status status = r.comm->WaitEvent(*event, Deadline::After(milliseconds(0)), {}, "allreduce #7");
  ASSERT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "allreduce #7")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "rank 0 of 1")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "aborted")) << status.message();
  ExpectAbortedAfterwards(r);
  (void)cuda::StreamSynchronize(r.stream.get());  // drain before the buffers are freed
}

TEST_F(NcclGpuTest, WaitEventCancelledAbortsTheCommunicator) {
  auto ranks = MakeRanks(1);
  Rank& r = ranks[0];
  auto a = cuda::DeviceBuffer::Allocate(r.device, 256u << 20);
  auto b = cuda::DeviceBuffer::Allocate(r.device, 256u << 20);
  auto event = cuda::Event::Create(r.device);
  ASSERT_TRUE(a.ok() && b.ok() && event.ok());
  EnqueueLongWork(r, *a, *b, *event);
  int polls = 0;
  Status status = r.comm->WaitEvent(*event, Deadline::After(seconds(60)), [&polls] {
    ++polls;
    return AbortedError("rank 3 failed (test)");
  });
  ASSERT_EQ(status.code(), StatusCode::kAborted) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "rank 3 failed (test)")) << status.message();
  EXPECT_EQ(polls, 1);
  ExpectAbortedAfterwards(r);
  (void)cuda::StreamSynchronize(r.stream.get());
}

TEST_F(NcclGpuTest, WaitEventSucceedsWhenWorkCompletes) {
  auto ranks = MakeRanks(1);
  Rank& r = ranks[0];
  auto a = cuda::DeviceBuffer::Allocate(r.device, 16u << 20);
  auto b = cuda::DeviceBuffer::Allocate(r.device, 16u << 20);
  auto event = cuda::Event::Create(r.device);
  ASSERT_TRUE(a.ok() && b.ok() && event.ok());
  EnqueueLongWork(r, *a, *b, *event);
  Status status = r.comm->WaitEvent(*event, Deadline::After(seconds(60)), [] { return Status::Ok(); });
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_FALSE(r.comm->aborted());
  EXPECT_TRUE(r.comm->AsyncError().ok());
}

TEST_F(NcclGpuTest, AbortIsIdempotentAndThreadSafe) {
  auto ranks = MakeRanks(1);
  Rank& r = ranks[0];
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&r] { r.comm->Abort(); });
  for (auto& t : threads) t.join();
  ExpectAbortedAfterwards(r);
  r.comm.reset();  // the destructor of an aborted communicator does nothing more
}

TEST_F(NcclGpuTest, InitEndsAtTheDeadlineWhenARankNeverJoins) {
  // Rank 0 of 2 alone: NCCL's bootstrap waits for rank 1, so Create must give up at the
  // deadline, abort, and say who was waiting.
  auto start = Clock::now();
  auto comm = NcclComm::Create(lib_, store_, "nccl-gpu-test/lonely", 0, 2, 0,
                               Deadline::After(seconds(3)));
  auto elapsed = std::chrono::duration_cast<seconds>(Clock::now() - start);
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kDeadlineExceeded) << comm.status().ToString();
  EXPECT_TRUE(Contains(comm.status().message(), "rank 0 of 2")) << comm.status().message();
  EXPECT_TRUE(Contains(comm.status().message(), "cuda:0")) << comm.status().message();
  EXPECT_TRUE(Contains(comm.status().message(), "did not join")) << comm.status().message();
  EXPECT_LT(elapsed.count(), 60) << "abort after the init deadline took too long";
}

TEST_F(NcclGpuTest, NonZeroRankWaitsForTheUniqueIdUntilItsDeadline) {
  auto comm = NcclComm::Create(lib_, store_, "nccl-gpu-test/never-published", 1, 2, 0,
                               Deadline::After(milliseconds(500)));
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kDeadlineExceeded) << comm.status().ToString();
  EXPECT_TRUE(Contains(comm.status().message(), "never-published")) << comm.status().message();
  EXPECT_TRUE(Contains(comm.status().message(), "rank 1 of 2")) << comm.status().message();
}

}  // namespace
}  // namespace cohort::nccl_test

#endif  // COHORT_HAVE_NCCL
