// soak: a bounded soak run, started in every rank by cohortrun. For --minutes it runs the
// pseudo-random sequence of soak_plan.h (every collective, barrier and send/recv, sizes from 0 to
// --max-bytes, every dtype and op, any root, in and out of place, blocking and up to 4 async
// calls in flight), checks every element of every result (tests/multiproc/case_runner.h), and
// compares what each rank holds after a warm-up with what it holds at the end
// (process_resources.h). Every rank draws the same sequence from --seed, so ranks never disagree
// on what comes next; a wrong result is counted and the run goes on.
//
// Exit status 0 only with 0 errors and nothing grown: RSS by at most --rss-limit-mib (16 MiB),
// and not one more open fd, thread, mapped /dev/shm segment or /dev/shm entry of this job. Each
// rank prints a line, rank 0 the total ("soak: ... passed"), and --json FILE gets the numbers.
//   cohortrun -np 4 soak --minutes 1 [--seed N] [--max-bytes 4M] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/cohort.h"
#include "tests/multiproc/case_runner.h"
#include "tests/soak/process_resources.h"
#include "tests/soak/soak_plan.h"

namespace cohort::soak {
namespace {

using check::CasePointers;
using Clock = std::chrono::steady_clock;

constexpr size_t kSlots = 4;          // async operations in flight at most
constexpr int kControlEvery = 16;     // operations between looks at the clock
constexpr double kWarmUpShare = 0.05;  // of the run, at most kWarmUpMaxSeconds
constexpr double kWarmUpMaxSeconds = 30;
constexpr double kSampleEverySeconds = 60;
constexpr size_t kGuardBytes = 64;    // room for the guard element after every buffer
constexpr uint64_t kWarmUpIndex = uint64_t{1} << 63;  // warm-up operations count from here
constexpr int kPrintedFailures = 10;  // per rank; later ones are only counted

// What each rank reports to rank 0 at the end, as one row of int64 (allgathered).
enum Field {
  kOps, kWarmUpOps, kErrors, kBytes,
  kRss0, kRss1, kPeakRss1, kFds0, kFds1, kThreads0, kThreads1, kMaps0, kMaps1,
  kShmAll0, kShmAll1, kShmJob0, kShmJob1, kFieldCount
};

struct Pending {
  uint64_t index;
  SoakOp op;
  size_t slot;
  CasePointers p;
  WorkPtr work;
};

class Soak {
 public:
  Soak(Communicator& comm, SoakOptions options);
  void Run();
  // Gathers every rank's numbers, prints the summary (and JSON on rank 0); the exit status.
  int Finish();
  uint64_t current_index() const { return current_index_; }

 private:
  void WarmUpSweep();
  void Execute(uint64_t index, const SoakOp& op);
  void SendRecv(uint64_t index, const SoakOp& op, size_t slot);
  void Complete(const Pending& pending);
  void Drain();
  void Fail(uint64_t index, const SoakOp& op, const std::string& detail);
  std::string Transports() const;
  void WriteJson(const std::vector<int64_t>& rows, bool passed, const std::string& verdict) const;

  Communicator& comm_;
  const SoakOptions options_;
  const int rank_, nranks_;
  std::vector<std::vector<unsigned char>> send_, recv_;  // kSlots each, touched once here
  std::vector<Pending> pending_;
  uint64_t current_index_ = 0;
  int64_t ops_ = 0, warm_up_ops_ = 0, errors_ = 0, bytes_ = 0;
  int64_t ops_by_kind_[9] = {};  // by CollectiveKind value
  ProcessResources start_, end_;
  std::vector<std::pair<double, ProcessResources>> timeline_;  // seconds since start_
  double measured_seconds_ = 0, total_seconds_ = 0;
};

Soak::Soak(Communicator& comm, SoakOptions options)
    : comm_(comm), options_(std::move(options)), rank_(comm.rank()), nranks_(comm.size()) {
  // Allocated and zeroed once: first touch of fresh pages is slow, and a soak must not measure
  // the allocator handing back and taking pages again.
  for (size_t i = 0; i < kSlots; ++i) {
    send_.emplace_back(options_.max_bytes + kGuardBytes);
    recv_.emplace_back(options_.max_bytes + kGuardBytes);
  }
}

void Soak::Fail(uint64_t index, const SoakOp& op, const std::string& detail) {
  if (errors_++ >= kPrintedFailures) return;
  const bool warm_up = index >= kWarmUpIndex;
  std::printf("soak: FAIL seed=%llu %s %llu rank=%d size=%d %s: %s\n",
              static_cast<unsigned long long>(options_.seed), warm_up ? "warm-up op" : "op",
              static_cast<unsigned long long>(warm_up ? index - kWarmUpIndex : index), rank_,
              nranks_, check::DescribeCase(op.c, op.in_place, op.async).c_str(), detail.c_str());
  std::fflush(stdout);
}

void Soak::SendRecv(uint64_t index, const SoakOp& op, size_t slot) {
  if (nranks_ == 1) return;
  const int to = (rank_ + op.shift) % nranks_, from = (rank_ - op.shift + nranks_) % nranks_;
  // Ranks rank, rank+shift, rank+2*shift, ... form gcd(n, shift) cycles; the lowest rank of each
  // (rank < gcd) sends first, so that no cycle has every rank waiting in its receive.
  const bool send_first = rank_ < std::gcd(nranks_, op.shift);
  const bench::Mismatch m = check::ExchangeAndCheck(comm_, op.c.dtype, op.c.count, op.c.seed, to,
                                                    from, send_first, send_[slot].data(),
                                                    recv_[slot].data());
  if (m.wrong != 0) {
    Fail(index, op, "from rank " + std::to_string(from) + ": " + std::to_string(m.wrong) +
                        " wrong elements, first at " + bench::DescribeMismatch(m, op.c.dtype));
  }
}

void Soak::Execute(uint64_t index, const SoakOp& op) {
  current_index_ = index;
  ++ops_;
  ++ops_by_kind_[static_cast<int>(op.c.kind)];
  const size_t slot = pending_.size();  // always free: Drain() runs when all are taken
  Pending pending{index, op, slot, {}, nullptr};
  switch (op.c.kind) {
    case CollectiveKind::kBarrier:
      if (!op.async) return comm_.barrier();
      pending.work = comm_.barrier_async();
      break;
    case CollectiveKind::kSendRecv:  // always blocking: both directions are waited for
      bytes_ += static_cast<int64_t>(op.c.count * DataTypeSize(op.c.dtype));
      return SendRecv(index, op, slot);
    default:
      bytes_ += static_cast<int64_t>(check::RecvSpan(op.c, op.in_place) * DataTypeSize(op.c.dtype));
      pending.p = check::PlaceCase(op.c, op.in_place, send_[slot].data(), recv_[slot].data());
      check::PrepareCase(op.c, op.in_place, recv_[slot].data(), pending.p);
      pending.work = check::IssueCollective(comm_, op.c, pending.p, op.async);
      if (!pending.work) return Complete(pending);
  }
  pending_.push_back(std::move(pending));
  if (pending_.size() == kSlots) Drain();
}

void Soak::Complete(const Pending& pending) {
  if (pending.work && !pending.work->test()) {
    Fail(pending.index, pending.op, "Work::test() is false after wait()");
  }
  if (pending.op.c.kind == CollectiveKind::kBarrier) return;
  const check::CaseOutcome outcome = check::CheckResult(
      pending.op.c, pending.op.in_place, recv_[pending.slot].data(), pending.p);
  if (!outcome.ok()) Fail(pending.index, pending.op, outcome.Describe(pending.op.c.dtype));
}

void Soak::Drain() {
  // Waited newest first, so that later calls finishing before earlier ones are exercised too.
  for (size_t i = pending_.size(); i-- > 0;) pending_[i].work->wait();
  for (const Pending& pending : pending_) Complete(pending);
  pending_.clear();
}

void Soak::WarmUpSweep() {
  // Every collective at every size class, f32 and f16, in and out of place (in place async), so
  // that links, arena slots and workspaces that are made on first use exist before the start.
  uint64_t k = kWarmUpIndex;
  const size_t sizes[] = {0, 4096, 256 << 10, options_.max_bytes};
  for (CollectiveKind kind : {CollectiveKind::kAllreduce, CollectiveKind::kReduceScatter,
                              CollectiveKind::kAllgather, CollectiveKind::kBroadcast,
                              CollectiveKind::kReduce, CollectiveKind::kAlltoall,
                              CollectiveKind::kSendRecv, CollectiveKind::kBarrier}) {
    for (DataType dtype : {DataType::kF32, DataType::kF16}) {
      for (size_t bytes : sizes) {
        for (bool in_place : {false, true}) {
          const SoakOp op = FixedOp(kind, dtype, std::min(bytes, options_.max_bytes), in_place,
                                    /*async=*/in_place, bench::MixSeed(options_.seed, k), rank_,
                                    nranks_);
          Execute(k++, op);
        }
      }
    }
  }
  Drain();
}

void Soak::Run() {
  const auto start = Clock::now();
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  const double duration = options_.minutes * 60;
  const double warm_up = std::min(kWarmUpMaxSeconds, kWarmUpShare * duration);
  WarmUpSweep();
  Clock::time_point measure_start = start;
  bool measuring = false;
  double next_sample = kSampleEverySeconds;
  for (uint64_t index = 0;;) {
    for (int i = 0; i < kControlEvery; ++i, ++index) {
      Execute(index, DrawOp(options_.seed, index, options_.max_bytes, rank_, nranks_));
    }
    Drain();
    // Every rank acts on the same decision: warm-up over and time up as soon as any rank's clock
    // says so.
    const double elapsed = seconds_since(start);
    int32_t flags[2] = {elapsed >= warm_up, elapsed >= duration};
    comm_.allreduce({flags, 2, DataType::kI32}, ReduceOp::kMax);
    if (!measuring && flags[0]) {
      measuring = true;
      warm_up_ops_ = ops_;
      measure_start = Clock::now();
      start_ = ReadProcessResources(comm_.config().job_id);
      timeline_.emplace_back(0.0, start_);
    }
    if (measuring && seconds_since(measure_start) >= next_sample) {
      timeline_.emplace_back(seconds_since(measure_start),
                             ReadProcessResources(comm_.config().job_id));
      next_sample += kSampleEverySeconds;
    }
    if (flags[1]) break;
  }
  comm_.barrier();
  measured_seconds_ = seconds_since(measure_start);
  total_seconds_ = seconds_since(start);
  end_ = ReadProcessResources(comm_.config().job_id);
  timeline_.emplace_back(measured_seconds_, end_);
}

std::string Soak::Transports() const {
  std::vector<std::string> seen;
  for (int peer = 0; peer < nranks_; ++peer) {
    if (peer == rank_) continue;
    const std::string t = comm_.transport_to(peer);
    if (std::find(seen.begin(), seen.end(), t) == seen.end()) seen.push_back(t);
  }
  std::string joined;
  for (const std::string& t : seen) joined += (joined.empty() ? "" : "+") + t;
  return joined.empty() ? "self" : joined;
}

double MiB(int64_t kib) { return static_cast<double>(kib) / 1024; }

int Soak::Finish() {
  int64_t row[kFieldCount] = {
      ops_, warm_up_ops_, errors_, bytes_,
      start_.rss_kib, end_.rss_kib, end_.peak_rss_kib, start_.open_fds, end_.open_fds,
      start_.threads, end_.threads, start_.shm_mappings, end_.shm_mappings,
      start_.shm_all, end_.shm_all, start_.shm_job, end_.shm_job};
  std::vector<int64_t> rows(kFieldCount * static_cast<size_t>(nranks_));
  comm_.allgather({row, kFieldCount, DataType::kI64},
                  {rows.data(), rows.size(), DataType::kI64});
  std::printf("soak: rank %d: %lld operations, %lld errors, RSS %.1f -> %.1f MiB (peak %.1f), "
              "fds %lld -> %lld, threads %lld -> %lld, shm mappings %lld -> %lld\n",
              rank_, static_cast<long long>(ops_), static_cast<long long>(errors_),
              MiB(row[kRss0]), MiB(row[kRss1]), MiB(row[kPeakRss1]),
              static_cast<long long>(row[kFds0]), static_cast<long long>(row[kFds1]),
              static_cast<long long>(row[kThreads0]), static_cast<long long>(row[kThreads1]),
              static_cast<long long>(row[kMaps0]), static_cast<long long>(row[kMaps1]));
  std::fflush(stdout);

  // The verdict, the same on every rank (from the same rows).
  int64_t errors = 0, rss_growth = INT64_MIN, fd_growth = INT64_MIN, thread_growth = INT64_MIN,
          map_growth = INT64_MIN;
  for (int r = 0; r < nranks_; ++r) {
    const int64_t* x = &rows[static_cast<size_t>(r) * kFieldCount];
    errors += x[kErrors];
    rss_growth = std::max(rss_growth, x[kRss1] - x[kRss0]);
    fd_growth = std::max(fd_growth, x[kFds1] - x[kFds0]);
    thread_growth = std::max(thread_growth, x[kThreads1] - x[kThreads0]);
    map_growth = std::max(map_growth, x[kMaps1] - x[kMaps0]);
  }
  const int64_t shm_job_growth = rows[kShmJob1] - rows[kShmJob0];  // rank 0's view of the host
  std::string problems;
  auto problem = [&](bool bad, const std::string& what) {
    if (bad) problems += (problems.empty() ? "" : ", ") + what;
  };
  problem(errors != 0, std::to_string(errors) + " errors");
  problem(rss_growth > options_.rss_limit_mib * 1024,
          "RSS grew by more than " + std::to_string(options_.rss_limit_mib) + " MiB");
  problem(fd_growth > 0, "open fds grew");
  problem(thread_growth > 0, "threads grew");
  problem(map_growth > 0, "shm mappings grew");
  problem(shm_job_growth > 0, "this job's /dev/shm entries grew");
  const bool passed = problems.empty();
  const std::string verdict = passed ? "passed" : "FAILED (" + problems + ")";

  comm_.barrier();  // the per-rank lines first
  if (rank_ == 0) {
    const double gib = static_cast<double>(rows[kBytes]) / double(1 << 30);
    std::printf("soak: %d ranks over %s, seed %llu, %.1f s (%.1f s measured after warm-up), "
                "%lld operations (%.1f/s, %lld in warm-up), %.2f GiB checked per rank, "
                "%lld errors; growth over all ranks: RSS %+.1f MiB (limit %lld), fds %+lld, "
                "threads %+lld, shm mappings %+lld; /dev/shm cohort-* %lld -> %lld (this job "
                "%lld -> %lld): %s\n",
                nranks_, Transports().c_str(), static_cast<unsigned long long>(options_.seed),
                total_seconds_, measured_seconds_, static_cast<long long>(rows[kOps]),
                static_cast<double>(rows[kOps]) / std::max(total_seconds_, 1e-9),
                static_cast<long long>(rows[kWarmUpOps]), gib, static_cast<long long>(errors),
                MiB(rss_growth), static_cast<long long>(options_.rss_limit_mib),
                static_cast<long long>(fd_growth),
                static_cast<long long>(thread_growth), static_cast<long long>(map_growth),
                static_cast<long long>(rows[kShmAll0]), static_cast<long long>(rows[kShmAll1]),
                static_cast<long long>(rows[kShmJob0]), static_cast<long long>(rows[kShmJob1]),
                verdict.c_str());
    std::fflush(stdout);
    if (!options_.json_path.empty()) WriteJson(rows, passed, verdict);
  }
  return passed ? 0 : 1;
}

void Soak::WriteJson(const std::vector<int64_t>& rows, bool passed,
                     const std::string& verdict) const {
  std::FILE* f = std::fopen(options_.json_path.c_str(), "w");
  if (f == nullptr) {
    std::printf("soak: cannot write %s\n", options_.json_path.c_str());
    return;
  }
  const auto ll = [](int64_t v) { return static_cast<long long>(v); };
  std::fprintf(f, "{\n  \"ranks\": %d,\n  \"transport\": \"%s\",\n  \"seed\": %llu,\n"
               "  \"max_bytes\": %zu,\n  \"minutes_requested\": %g,\n  \"seconds\": %.1f,\n"
               "  \"measured_seconds\": %.1f,\n  \"operations\": %lld,\n"
               "  \"warm_up_operations\": %lld,\n  \"bytes_checked_per_rank\": %lld,\n",
               nranks_, Transports().c_str(), static_cast<unsigned long long>(options_.seed),
               options_.max_bytes, options_.minutes, total_seconds_, measured_seconds_,
               ll(rows[kOps]), ll(rows[kWarmUpOps]), ll(rows[kBytes]));
  std::fprintf(f, "  \"operations_by_kind\": {");
  const char* sep = "";
  for (int k = 1; k < 9; ++k) {
    const auto kind = static_cast<CollectiveKind>(k);
    std::fprintf(f, "%s\"%s\": %lld", sep, std::string(CollectiveName(kind)).c_str(),
                 ll(ops_by_kind_[k]));
    sep = ", ";
  }
  int64_t errors = 0;
  for (int r = 0; r < nranks_; ++r) errors += rows[static_cast<size_t>(r) * kFieldCount + kErrors];
  std::fprintf(f, "},\n  \"errors\": %lld,\n  \"passed\": %s,\n  \"verdict\": \"%s\",\n",
               ll(errors), passed ? "true" : "false", verdict.c_str());
  std::fprintf(f, "  \"shm_entries\": {\"all_start\": %lld, \"all_end\": %lld, "
               "\"job_start\": %lld, \"job_end\": %lld},\n  \"per_rank\": [\n",
               ll(rows[kShmAll0]), ll(rows[kShmAll1]), ll(rows[kShmJob0]), ll(rows[kShmJob1]));
  for (int r = 0; r < nranks_; ++r) {
    const int64_t* x = &rows[static_cast<size_t>(r) * kFieldCount];
    std::fprintf(f, "    {\"rank\": %d, \"errors\": %lld, \"rss_kib_start\": %lld, "
                 "\"rss_kib_end\": %lld, \"peak_rss_kib\": %lld, \"fds_start\": %lld, "
                 "\"fds_end\": %lld, \"threads_start\": %lld, \"threads_end\": %lld, "
                 "\"shm_mappings_start\": %lld, \"shm_mappings_end\": %lld}%s\n",
                 r, ll(x[kErrors]), ll(x[kRss0]), ll(x[kRss1]), ll(x[kPeakRss1]), ll(x[kFds0]),
                 ll(x[kFds1]), ll(x[kThreads0]), ll(x[kThreads1]), ll(x[kMaps0]), ll(x[kMaps1]),
                 r + 1 < nranks_ ? "," : "");
  }
  std::fprintf(f, "  ],\n  \"rank0_timeline\": [\n");
  for (size_t i = 0; i < timeline_.size(); ++i) {
    const ProcessResources& s = timeline_[i].second;
    std::fprintf(f, "    {\"t_s\": %.1f, \"rss_kib\": %lld, \"fds\": %lld, \"threads\": %lld, "
                 "\"shm_mappings\": %lld}%s\n",
                 timeline_[i].first, ll(s.rss_kib), ll(s.open_fds), ll(s.threads),
                 ll(s.shm_mappings), i + 1 < timeline_.size() ? "," : "");
  }
  std::fprintf(f, "  ]\n}\n");
  std::fclose(f);
}

}  // namespace
}  // namespace cohort::soak

int main(int argc, char** argv) {
  cohort::Result<cohort::soak::SoakOptions> options = cohort::soak::ParseSoakOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "soak: %s\n", options.status().message().c_str());
    return 2;
  }
  uint64_t index = 0;
  try {
    cohort::soak::Soak soak(cohort::init(), *options);
    try {
      soak.Run();
    } catch (...) {
      index = soak.current_index();
      throw;
    }
    const int status = soak.Finish();
    cohort::shutdown();
    return status;
  } catch (const cohort::Error& e) {
    // A call failed outright (timeout, peer lost): the ranks cannot go on in step.
    std::printf("soak: FAIL seed=%llu at op %llu: %s\n",
                static_cast<unsigned long long>(options->seed),
                static_cast<unsigned long long>(index), e.what());
    return 1;
  }
}
