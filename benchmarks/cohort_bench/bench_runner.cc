// The measuring loop of cohort-bench (see bench_runner.h).
#include "benchmarks/cohort_bench/bench_runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "benchmarks/cohort_bench/expected.h"
#include "runtime/base/errors.h"

namespace cohort::bench {

// Page-aligned memory, touched once at allocation so that first-touch page faults never land in
// a timed iteration.
struct BenchRunner::Buffer {
  explicit Buffer(size_t bytes) : size(std::max<size_t>((bytes + 4095) / 4096 * 4096, 4096)) {
    data = static_cast<char*>(std::aligned_alloc(4096, size));
    if (data == nullptr) {
      throw InvalidArgument(StatusCode::kInvalidArgument,
                            "cannot allocate " + std::to_string(size) + " bytes for buffers");
    }
    std::memset(data, 0, size);
  }
  ~Buffer() { std::free(data); }
  char* data = nullptr;
  size_t size = 0;
};

BenchRunner::BenchRunner(BenchBackend& backend, BenchOptions options, std::string command_line)
    : backend_(backend), options_(std::move(options)), command_line_(std::move(command_line)) {}

BenchRunner::~BenchRunner() = default;

std::string BenchRunner::RankLine() const {
  std::string line = backend_.RankLine();
  if (!device_.is_cpu()) {
    line += " device " + device_.ToString() + " " + cuda::DeviceDescription(device_.index);
  }
  return line;
}

void BenchRunner::Call(const BufferView& send, const BufferView& recv, ReduceOp op) {
  backend_.Run(options_.collective, send, recv, op, options_.root);
}

Measured BenchRunner::Skip(const std::string& why) {
  if (backend_.rank() == 0 && skip_reasons_.insert(why).second) {
    std::printf("# N/A: %s\n", why.c_str());
  }
  Measured m;
  m.skipped = true;
  return m;
}

namespace {

// The send and receive views of one call, out of place or in place (nccl-tests' offsets).
struct CallViews {
  BufferView send, recv;
};

CallViews ViewsFor(const BufferLayout& layout, DataType dtype, bool in_place, int rank,
                   char* send_base, char* recv_base, Device device = Device::Cpu()) {
  const size_t element = DataTypeSize(dtype);
  const auto r = static_cast<size_t>(rank);
  char* send = in_place ? recv_base + r * layout.send_inplace_offset * element : send_base;
  char* recv = in_place ? recv_base + r * layout.recv_inplace_offset * element : recv_base;
  return {{send, layout.send_count, dtype, device}, {recv, layout.recv_count, dtype, device}};
}

void ThrowIfFailed(const Status& status) {
  if (!status.ok()) ThrowIfError(status);
}

uint64_t CaseSeed(size_t bytes, DataType dtype, ReduceOp op, bool in_place) {
  uint64_t seed = MixSeed(0xc0407bec, bytes);
  seed = MixSeed(seed, static_cast<uint64_t>(dtype) << 8 | static_cast<uint64_t>(op));
  return MixSeed(seed, in_place);
}

}  // namespace

void BenchRunner::SetUpDevice() {
  if (options_.gpus == 0) return;
  const int visible = cuda::DeviceCount();
  device_ = Device::Cuda(visible > 0 ? backend_.local_rank() % visible : 0);
  ThrowIfFailed(cuda::CheckDevice(device_, backend_.rank()));
  Result<cuda::DeviceBuffer> send = cuda::DeviceBuffer::Allocate(device_.index, send_->size);
  ThrowIfFailed(send.status());
  Result<cuda::DeviceBuffer> recv = cuda::DeviceBuffer::Allocate(device_.index, recv_->size);
  ThrowIfFailed(recv.status());
  device_send_ = std::move(*send);
  device_recv_ = std::move(*recv);
}

void BenchRunner::SyncDevice(bool to_device) {
  if (device_.is_cpu()) return;
  if (to_device) {
    ThrowIfFailed(cuda::MemcpyAsync(device_send_.data(), send_->data, send_->size, nullptr));
    ThrowIfFailed(cuda::MemcpyAsync(device_recv_.data(), recv_->data, recv_->size, nullptr));
  } else {
    ThrowIfFailed(cuda::MemcpyAsync(send_->data, device_send_.data(), send_->size, nullptr));
    ThrowIfFailed(cuda::MemcpyAsync(recv_->data, device_recv_.data(), recv_->size, nullptr));
  }
  ThrowIfFailed(cuda::StreamSynchronize(nullptr));
}

long long BenchRunner::CheckOnce(const BufferLayout& layout, DataType dtype, ReduceOp op,
                                 bool in_place) {
  CheckCase c{options_.collective, dtype, op, options_.root, backend_.rank(), backend_.size(),
              layout.count, CaseSeed(layout.bytes, dtype, op, in_place)};
  const CallViews v = ViewsFor(layout, dtype, in_place, backend_.rank(), send_->data, recv_->data);
  // Unwritten output shows up as the sentinel; in place, the input is then written over it.
  FillSentinel(recv_->data, std::max(layout.send_count, layout.recv_count), dtype);
  FillCheckInput(c, v.send.data);
  if (device_.is_cpu()) {
    Call(v.send, v.recv, op);
  } else {
    // Same values through device memory: host buffers are copied in, the call runs on the
    // device twins, and the results come back for the host-side check.
    SyncDevice(true);
    const CallViews d = ViewsFor(layout, dtype, in_place, backend_.rank(),
                                 static_cast<char*>(device_send_.data()),
                                 static_cast<char*>(device_recv_.data()), device_);
    Call(d.send, d.recv, op);
    SyncDevice(false);
  }
  long long wrong = static_cast<long long>(CheckOutput(c, v.recv.data).wrong);
  if (!in_place) wrong += static_cast<long long>(CheckInputUnchanged(c, v.send.data).wrong);
  return backend_.SumOverRanks(wrong);
}

Measured BenchRunner::Measure(const BufferLayout& layout, DataType dtype, ReduceOp op,
                              bool in_place) {
  const std::string unsupported = backend_.Unsupported(options_.collective, dtype, op, in_place);
  if (!unsupported.empty()) return Skip(unsupported);
  CheckCase c{options_.collective, dtype, op, options_.root, backend_.rank(), backend_.size(),
              layout.count, CaseSeed(layout.bytes, dtype, op, in_place)};
  const CallViews host = ViewsFor(layout, dtype, in_place, backend_.rank(), send_->data,
                                  recv_->data);
  // Timed runs use the same well-behaved values as checks (no NaN or denormal slow paths).
  FillCheckInput(c, host.send.data);
  SyncDevice(true);
  const CallViews v = device_.is_cpu()
                          ? host
                          : ViewsFor(layout, dtype, in_place, backend_.rank(),
                                     static_cast<char*>(device_send_.data()),
                                     static_cast<char*>(device_recv_.data()), device_);
  for (int i = 0; i < options_.warmup_iters; ++i) Call(v.send, v.recv, op);
  backend_.Barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options_.iters; ++i) Call(v.send, v.recv, op);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
      options_.iters;
  // Before the harness's own reduction of the times, which is a collective too.
  timed_algorithm_ = backend_.LastAlgorithm();
  seconds = backend_.MaxOverRanks(seconds);

  Measured m;
  m.time_us = seconds * 1e6;
  m.algbw = AlgBwGBs(layout.bytes, seconds);
  m.busbw = m.algbw * BusBwFactor(options_.collective, backend_.size());
  if (options_.check) m.wrong = CheckOnce(layout, dtype, op, in_place);
  return m;
}

int BenchRunner::Run() {
  const bool rooted = HasRoot(options_.collective);
  if (rooted && options_.root >= backend_.size()) {
    throw InvalidArgument(StatusCode::kInvalidArgument,
                          "root " + std::to_string(options_.root) + " is not a rank of this " +
                              std::to_string(backend_.size()) + "-rank job (-r 0.." +
                              std::to_string(backend_.size() - 1) + ")");
  }
  send_ = std::make_unique<Buffer>(options_.max_bytes);
  recv_ = std::make_unique<Buffer>(options_.max_bytes);
  SetUpDevice();
  // Every rank's line for the header, gathered as fixed-size records.
  constexpr size_t kLine = 256;
  std::vector<char> mine(kLine, '\0'), all(kLine * static_cast<size_t>(backend_.size()), '\0');
  const std::string line = RankLine();
  std::memcpy(mine.data(), line.data(), std::min(line.size(), kLine - 1));
  backend_.Allgather(mine.data(), kLine, all.data());

  const bool printer = backend_.rank() == 0;
  if (printer) {
    HeaderInfo info{command_line_, options_.collective, backend_.size(), backend_.num_nodes(),
                    options_.min_bytes, options_.max_bytes, options_.step_factor,
                    options_.step_bytes, options_.iters, options_.warmup_iters, options_.check, {}};
    for (int r = 0; r < backend_.size(); ++r) info.rank_lines.emplace_back(&all[r * kLine]);
    std::fputs((FormatHeader(info) + FormatColumnHeader()).c_str(), stdout);
    std::fflush(stdout);
  }

  const std::vector<size_t> sizes = SizeList(options_.min_bytes, options_.max_bytes,
                                             options_.step_factor, options_.step_bytes);
  std::vector<BenchRow> rows;
  double busbw_sum = 0;
  int busbw_count = 0;
  long long wrong_total = options_.check ? 0 : -1;
  for (DataType dtype : options_.dtypes) {
    for (ReduceOp op : options_.ops) {
      if (IsReduction(options_.collective) && !CheckOpSupported(op, dtype).ok()) {
        if (printer) {
          std::printf("# skipping %s with %s: avg is defined for floating-point types only\n",
                      std::string(NcclTypeName(dtype)).c_str(),
                      std::string(ReduceOpName(op)).c_str());
        }
        continue;
      }
      for (size_t size : sizes) {
        const BufferLayout layout =
            LayoutFor(options_.collective, size, DataTypeSize(dtype), backend_.size());
        BenchRow row{options_.collective, layout.bytes, layout.count,
                     std::string(NcclTypeName(dtype)),
                     IsReduction(options_.collective) ? std::string(ReduceOpName(op)) : "none",
                     rooted ? options_.root : -1, {}, {}, {}};
        row.out_of_place = Measure(layout, dtype, op, /*in_place=*/false);
        row.algorithm = timed_algorithm_;
        row.in_place = Measure(layout, dtype, op, /*in_place=*/true);
        for (const Measured* m : {&row.out_of_place, &row.in_place}) {
          if (m->skipped) continue;
          busbw_sum += m->busbw;
          ++busbw_count;
          if (m->wrong) wrong_total += *m->wrong;
        }
        if (printer) {
          std::printf("%s\n", FormatRow(row).c_str());
          std::fflush(stdout);
        }
        rows.push_back(std::move(row));
      }
    }
  }
  const double avg_busbw = busbw_count ? busbw_sum / busbw_count : 0.0;
  if (printer) {
    std::fputs(FormatFooter(wrong_total, avg_busbw, options_.collective).c_str(), stdout);
    std::fputs(backend_.Footnote().c_str(), stdout);
    std::fflush(stdout);
    if (!options_.json_path.empty()) {
      std::ofstream json(options_.json_path);
      json << RowsToJson(rows, backend_.size(), avg_busbw, std::string(backend_.name()));
      if (!json.good()) {
        std::fprintf(stderr, "cohort-bench: cannot write %s\n", options_.json_path.c_str());
        return 1;
      }
    }
  }
  return wrong_total > 0 ? 1 : 0;
}

}  // namespace cohort::bench
