// collective_check: run in every rank by cohortrun; checks every collective x dtype x op x
// in/out-of-place x count against references computed independently on each rank (each rank
// regenerates every other rank's input from a counter-based hash; see
// benchmarks/cohort_bench/check_values.h), every element, plus async forms, send/recv, barrier
// and the refusal of avg on integers. Every rank runs the same sequence of collectives whatever
// fails, so a failure never turns into a hang; the first failure on each rank is printed with
// the seed, and the job exits 1 at the end. Options:
//   --counts 0,1,7,1000    counts for the full matrix
//   --big-counts 1048579   counts for the big pass, whose breadth --big-scope sets:
//   --big-scope all|core|min|none   (core: allreduce in full, the rest for a few dtypes)
//   --seed N
//   --expect-transport shm|tcp|ucx (every peer must use it) or LOCAL/REMOTE such as shm/tcp
//     (peers on this rank's host use LOCAL, the others REMOTE)
//   --expect-algorithm NAME  (1 MiB allreduce, broadcast and allgather must choose it)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/cohort_bench/bench_math.h"
#include "benchmarks/cohort_bench/expected.h"
#include "runtime/cohort.h"
#include "tests/multiproc/case_runner.h"
#include "tests/multiproc/check_matrix.h"

namespace cohort::check {
namespace {

using bench::CheckCase;
using bench::Mismatch;

class Checker {
 public:
  Checker(Communicator& comm, CheckOptions options) : comm_(comm), options_(std::move(options)) {}

  void RunAll();
  // Sums failures over ranks, prints the summary from rank 0; returns the exit status.
  int Finish();

 private:
  void RunCollective(CheckCase c, bool in_place, bool async);
  void SendRecv(DataType dtype, size_t count);
  void Async();
  void Barrier();
  void IntegerAvgRefused();
  void TransportIsExpected();
  void AlgorithmIsExpected();
  void Record(bool ok, const std::string& what, const std::string& detail);
  std::string Describe(const CheckCase& c, bool in_place, bool async) const;
  uint64_t NextSeed() { return bench::MixSeed(options_.seed, ++case_number_); }

  Communicator& comm_;
  CheckOptions options_;
  uint64_t case_number_ = 0;
  long long checks_ = 0, failures_ = 0;
  std::vector<unsigned char> send_, recv_;
};

std::string Checker::Describe(const CheckCase& c, bool in_place, bool async) const {
  return DescribeCase(c, in_place, async) + " case=" + std::to_string(case_number_);
}

void Checker::Record(bool ok, const std::string& what, const std::string& detail) {
  ++checks_;
  if (ok) return;
  if (failures_++ == 0) {  // the first failure in full; later ones only counted
    std::printf("collective_check: FAIL seed=%llu rank=%d size=%d %s: %s\n",
                static_cast<unsigned long long>(options_.seed), comm_.rank(), comm_.size(),
                what.c_str(), detail.c_str());
    std::fflush(stdout);
  }
}

void Checker::RunCollective(CheckCase c, bool in_place, bool async) {
  c.rank = comm_.rank();
  c.nranks = comm_.size();
  c.seed = NextSeed();
  const size_t es = DataTypeSize(c.dtype);
  send_.resize(bench::InputCount(c) * es + 1);  // never empty: data() is not null at count 0
  recv_.resize((RecvSpan(c, in_place) + 1) * es);  // + the guard element
  const CasePointers p = PlaceCase(c, in_place, send_.data(), recv_.data());
  PrepareCase(c, in_place, recv_.data(), p);
  if (WorkPtr work = IssueCollective(comm_, c, p, async)) {
    work->wait();
    Record(work->test(), "Work::test after wait", "returned false");
  }
  const CaseOutcome outcome = CheckResult(c, in_place, recv_.data(), p);
  Record(outcome.ok(), Describe(c, in_place, async), outcome.Describe(c.dtype));
}

void Checker::SendRecv(DataType dtype, size_t count) {
  const int n = comm_.size(), me = comm_.rank();
  if (n == 1) return;
  const uint64_t seed = NextSeed();
  const size_t es = DataTypeSize(dtype);
  // The communicator runs operations in call order, so a rank that posts its receive first
  // waits for it before its send starts: `send_first` orders the calls so that no cycle of
  // ranks all wait to receive (rank 0 starts the ring; the lower rank of a pair sends first).
  auto exchange = [&](int to, int from, bool send_first, const char* pattern) {
    std::vector<unsigned char> out((count + 1) * es), in((count + 1) * es);
    const Mismatch m =
        ExchangeAndCheck(comm_, dtype, count, seed, to, from, send_first, out.data(), in.data());
    Record(m.wrong == 0,
           std::string("send/recv ") + pattern + " dtype=" + std::string(DataTypeName(dtype)) +
               " count=" + std::to_string(count) + " from rank " + std::to_string(from),
           bench::DescribeMismatch(m, dtype));
  };
  exchange((me + 1) % n, (me + n - 1) % n, me == 0, "ring shift");
  const int partner = me ^ 1;  // pairs (0,1), (2,3), ...; the last rank of an odd size sits out
  if (partner < n) exchange(partner, partner, me < partner, "pairwise exchange");
}

void Checker::Async() {
  // Several calls in flight at once on distinct buffers, waited in reverse order.
  const int n = comm_.size(), me = comm_.rank();
  const size_t count = 1000;
  std::vector<CheckCase> cases = {
      {CollectiveKind::kAllreduce, DataType::kF32, ReduceOp::kSum, 0, me, n, count, NextSeed()},
      {CollectiveKind::kAllgather, DataType::kI32, ReduceOp::kSum, 0, me, n, count, NextSeed()},
      {CollectiveKind::kBroadcast, DataType::kF64, ReduceOp::kSum, n - 1, me, n, count, NextSeed()},
      {CollectiveKind::kReduceScatter, DataType::kBF16, ReduceOp::kMax, 0, me, n, count, NextSeed()},
      {CollectiveKind::kAlltoall, DataType::kU8, ReduceOp::kSum, 0, me, n, count, NextSeed()},
      {CollectiveKind::kReduce, DataType::kI64, ReduceOp::kProd, n - 1, me, n, count, NextSeed()},
  };
  std::vector<std::vector<unsigned char>> sends, recvs;
  std::vector<WorkPtr> works;
  for (const CheckCase& c : cases) {
    const size_t es = DataTypeSize(c.dtype);
    sends.emplace_back(bench::InputCount(c) * es);
    recvs.emplace_back(bench::OutputCount(c) * es);
    bench::FillCheckInput(c, sends.back().data());
    works.push_back(IssueCollective(comm_, c, {sends.back().data(), recvs.back().data()}, true));
  }
  for (size_t i = works.size(); i-- > 0;) works[i]->wait();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Mismatch m = bench::CheckOutput(cases[i], recvs[i].data());
    Record(m.wrong == 0 && works[i]->test(), Describe(cases[i], false, true) + " (6 in flight)",
           bench::DescribeMismatch(m, cases[i].dtype));
  }
}

void Checker::Barrier() {
  // Rank 0 arrives 300 ms late; nobody may leave the barrier before it arrives.
  comm_.barrier();
  if (comm_.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  comm_.barrier();
  const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start).count();
  const bool ok = comm_.rank() == 0 || comm_.size() == 1 || waited_ms >= 200;
  Record(ok, "barrier", "returned after " + std::to_string(waited_ms) +
                            " ms, before rank 0 (300 ms late) arrived");
}

void Checker::IntegerAvgRefused() {
  std::vector<unsigned char> buffer(64 * 8 * static_cast<size_t>(comm_.size()));
  for (DataType dtype : kAllDataTypes) {
    if (IsFloatingPoint(dtype)) continue;
    const BufferView small{buffer.data(), 8, dtype};
    const BufferView whole{buffer.data(), 8 * static_cast<size_t>(comm_.size()), dtype};
    struct Attempt { const char* name; std::function<void()> call; };
    const Attempt attempts[] = {
        {"allreduce", [&] { comm_.allreduce(small, small, ReduceOp::kAvg); }},
        {"reduce_scatter", [&] { comm_.reduce_scatter(whole, small, ReduceOp::kAvg); }},
        {"reduce", [&] { comm_.reduce(small, small, ReduceOp::kAvg, 0); }},
        {"allreduce_async", [&] { comm_.allreduce_async(small, small, ReduceOp::kAvg)->wait(); }},
    };
    for (const Attempt& a : attempts) {
      std::string outcome = "did not throw";
      try {
        a.call();
      } catch (const InvalidArgument&) {
        outcome.clear();
      } catch (const Error& e) {
        outcome = std::string("threw another cohort::Error: ") + e.what();
      }
      Record(outcome.empty(), std::string(a.name) + " avg on " + std::string(DataTypeName(dtype)),
             "expected cohort::InvalidArgument but " + outcome);
    }
  }
}

void Checker::TransportIsExpected() {
  if (options_.expect_transport.empty()) return;
  const size_t slash = options_.expect_transport.find('/');
  const std::string local = options_.expect_transport.substr(0, slash);
  const std::string remote =
      slash == std::string::npos ? local : options_.expect_transport.substr(slash + 1);
  for (int peer = 0; peer < comm_.size(); ++peer) {
    if (peer == comm_.rank()) continue;
    const bool same_host = comm_.node_of(peer) == comm_.node_rank();
    const std::string& expected = same_host ? local : remote;
    const std::string t = comm_.transport_to(peer);
    Record(t == expected, "transport to rank " + std::to_string(peer),
           "is " + t + ", expected " + expected + (same_host ? " (same host)" : " (another host)"));
  }
}

// The algorithm the selector picks for mid-sized collectives: checks, for example, that ranks
// spanning hosts go hierarchical. The data are checked like every other case.
void Checker::AlgorithmIsExpected() {
  if (options_.expect_algorithm.empty()) return;
  const size_t count = size_t{1} << 18;  // 1 MiB of f32
  for (CollectiveKind kind :
       {CollectiveKind::kAllreduce, CollectiveKind::kBroadcast, CollectiveKind::kAllgather}) {
    CheckCase c{};
    c.kind = kind;
    c.dtype = DataType::kF32;
    c.op = ReduceOp::kSum;
    c.count = count;
    RunCollective(c, /*in_place=*/false, /*async=*/false);
    const std::string chosen = comm_.last_algorithm();
    Record(chosen == options_.expect_algorithm,
           std::string(CollectiveName(kind)) + " of 1 MiB algorithm",
           "is " + chosen + ", expected " + options_.expect_algorithm);
  }
}

void Checker::RunAll() {
  TransportIsExpected();
  ForEachCase(options_, comm_.size(), [&](const MatrixCase& m) {
    RunCollective(m.c, m.in_place, /*async=*/false);
  });
  for (DataType dtype : kAllDataTypes) {
    for (size_t count : options_.counts) SendRecv(dtype, count);
  }
  for (size_t count : options_.big_counts) SendRecv(DataType::kF32, count);
  Async();
  Barrier();
  IntegerAvgRefused();
  AlgorithmIsExpected();
}

int Checker::Finish() {
  long long totals[2] = {checks_, failures_};
  comm_.allreduce({totals, 2, DataType::kI64}, ReduceOp::kSum);
  if (comm_.rank() == 0) {
    if (totals[1] == 0) {
      std::printf("collective_check: %lld checks passed (%d ranks, seed %llu)\n", totals[0],
                  comm_.size(), static_cast<unsigned long long>(options_.seed));
    } else {
      std::printf("collective_check: %lld of %lld checks FAILED (%d ranks, seed %llu)\n",
                  totals[1], totals[0], comm_.size(),
                  static_cast<unsigned long long>(options_.seed));
    }
    std::fflush(stdout);
  }
  return totals[1] == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cohort::check

int main(int argc, char** argv) {
  cohort::Result<cohort::check::CheckOptions> options = cohort::check::ParseCheckOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "collective_check: %s\n", options.status().message().c_str());
    return 2;
  }
  try {
    cohort::check::Checker checker(cohort::init(), *options);
    checker.RunAll();
    const int status = checker.Finish();
    cohort::shutdown();
    return status;
  } catch (const cohort::Error& e) {
    // A collective failed outright (timeout, peer lost): the job cannot go on in step.
    std::printf("collective_check: FAIL seed=%llu: %s\n",
                static_cast<unsigned long long>(options->seed), e.what());
    return 1;
  }
}
