// CollectiveHarness; see collective_harness.h.
#include "collective_harness.h"

#include <cstring>

#include "test_values.h"

namespace cohort::testing {
namespace {

constexpr size_t kGuardBytes = 64;
constexpr std::byte kPattern{0xA5};
constexpr size_t kMaxOutstanding = 8;

// A buffer with guard bytes on both sides, all filled with kPattern.
struct Guarded {
  std::vector<std::byte> storage;
  explicit Guarded(size_t bytes) : storage(bytes + 2 * kGuardBytes, kPattern) {}
  std::byte* data() { return storage.data() + kGuardBytes; }
};

struct RankBuffers {
  std::unique_ptr<Guarded> send;  // out of place only
  std::unique_ptr<Guarded> recv;  // the receive buffer (in place: the only buffer)
  std::vector<std::byte> send_snapshot;
  std::vector<std::byte> recv_snapshot;
  CollectiveArgs args;
  size_t result_first = 0;  // result region in elements of recv->data()
  size_t result_count = 0;
};

size_t SendElements(const Case& c, int rank) {
  const size_t n = static_cast<size_t>(c.size);
  switch (c.kind) {
    case CollectiveKind::kBroadcast: return rank == c.root ? c.count : 0;
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAlltoall: return c.count * n;
    case CollectiveKind::kBarrier: return 0;
    default: return c.count;
  }
}

size_t RecvElements(const Case& c) {
  const size_t n = static_cast<size_t>(c.size);
  switch (c.kind) {
    case CollectiveKind::kReduceScatter: return c.in_place ? c.count * n : c.count;
    case CollectiveKind::kAllgather:
    case CollectiveKind::kAlltoall: return c.count * n;
    case CollectiveKind::kBarrier: return 0;
    default: return c.count;
  }
}

void FillInput(const Case& c, int rank, void* base, size_t elements) {
  for (size_t i = 0; i < elements; ++i) {
    StoreValue(c.dtype, base, i, InputValue(rank, i, c.dtype, c.op));
  }
}

RankBuffers MakeBuffers(const Case& c, int rank) {
  RankBuffers b;
  const size_t elem = DataTypeSize(c.dtype);
  const size_t n = static_cast<size_t>(c.size);
  const size_t send_elements = SendElements(c, rank);
  const size_t recv_elements = RecvElements(c);
  b.recv = std::make_unique<Guarded>(recv_elements * elem);
  std::byte* recv = b.recv->data();
  b.args = {c.kind, nullptr, recv, c.count, c.dtype, c.op, c.root};
  const size_t own = static_cast<size_t>(rank) * c.count;
  if (c.in_place) {
    switch (c.kind) {
      case CollectiveKind::kReduceScatter:
        FillInput(c, rank, recv, send_elements);
        b.args.send = recv;
        b.args.recv = recv + own * elem;
        break;
      case CollectiveKind::kAllgather:
        FillInput(c, rank, recv + own * elem, send_elements);
        b.args.send = recv + own * elem;
        break;
      default:
        FillInput(c, rank, recv, send_elements);
        b.args.send = recv;
        break;
    }
  } else if (send_elements > 0) {
    b.send = std::make_unique<Guarded>(send_elements * elem);
    FillInput(c, rank, b.send->data(), send_elements);
    b.args.send = b.send->data();
    b.send_snapshot = b.send->storage;
  }
  // Where the result lands, in elements of recv.
  const bool is_root = rank == c.root;
  switch (c.kind) {
    case CollectiveKind::kReduce: b.result_count = is_root ? c.count : 0; break;
    case CollectiveKind::kReduceScatter:
      b.result_first = c.in_place ? own : 0;
      b.result_count = c.count;
      break;
    case CollectiveKind::kAllgather:
    case CollectiveKind::kAlltoall: b.result_count = c.count * n; break;
    case CollectiveKind::kBarrier: break;
    default: b.result_count = c.count; break;
  }
  b.recv_snapshot = b.recv->storage;
  return b;
}

// Expected reductions over all ranks of elements [0, range), computed once per case.
std::vector<double> Reduced(const Case& c, size_t range) {
  std::vector<double> out(range);
  for (size_t i = 0; i < range; ++i) {
    double acc = InputValue(0, i, c.dtype, c.op);
    for (int q = 1; q < c.size; ++q) acc = Combine(c.op, acc, InputValue(q, i, c.dtype, c.op));
    out[i] = c.op == ReduceOp::kAvg ? acc / c.size : acc;
  }
  return out;
}

}  // namespace

std::string Case::ToString() const {
  return std::string(CollectiveName(kind)) + " size=" + std::to_string(size) +
         " dtype=" + std::string(DataTypeName(dtype)) + " op=" + std::string(ReduceOpName(op)) +
         " count=" + std::to_string(count) + (in_place ? " in-place" : " out-of-place") +
         " root=" + std::to_string(root) + " chunk_bytes=" + std::to_string(chunk_bytes);
}

CollectiveHarness::CollectiveHarness(int size, bool with_arena) : world_(size, with_arena) {
  for (int r = 0; r < size; ++r) workspaces_.push_back(std::make_unique<Workspace>());
}

std::vector<Status> CollectiveHarness::RunRaw(const Case& c, const CollectiveFn& fn) {
  std::vector<RankBuffers> buffers;
  for (int r = 0; r < c.size; ++r) buffers.push_back(MakeBuffers(c, r));
  for (auto& ws : workspaces_) ws->chunk_bytes = c.chunk_bytes;
  return world_.Run([&](int r) {
    return fn(world_.io(r), buffers[static_cast<size_t>(r)].args,
              *workspaces_[static_cast<size_t>(r)]);
  });
}

std::string CollectiveHarness::RunAndCheck(const Case& c, const CollectiveFn& fn) {
  const size_t elem = DataTypeSize(c.dtype);
  const size_t n = static_cast<size_t>(c.size);
  std::vector<RankBuffers> buffers;
  for (int r = 0; r < c.size; ++r) buffers.push_back(MakeBuffers(c, r));
  for (int r = 0; r < c.size; ++r) world_.io(r).ResetStats();
  for (auto& ws : workspaces_) ws->chunk_bytes = c.chunk_bytes;
  std::vector<Status> statuses = world_.Run([&](int r) {
    return fn(world_.io(r), buffers[static_cast<size_t>(r)].args,
              *workspaces_[static_cast<size_t>(r)]);
  });
  const std::string where = c.ToString() + ": ";
  // Report the root cause: a rank's own failure before the aborts it caused elsewhere.
  for (int r = 0; r < c.size; ++r) {
    const Status& s = statuses[static_cast<size_t>(r)];
    if (!s.ok() && s.code() != StatusCode::kAborted) {
      return where + "rank " + std::to_string(r) + " failed: " + s.ToString();
    }
  }
  for (int r = 0; r < c.size; ++r) {
    if (!statuses[static_cast<size_t>(r)].ok()) {
      return where + "rank " + std::to_string(r) + " failed: " +
             statuses[static_cast<size_t>(r)].ToString();
    }
    FakePeerIo& io = world_.io(r);
    if (io.pending() != 0) return where + "rank " + std::to_string(r) + " left requests unwaited";
    if (io.max_outstanding() > kMaxOutstanding) {
      return where + "rank " + std::to_string(r) + " had " + std::to_string(io.max_outstanding()) +
             " requests outstanding";
    }
    if (c.count == 0 && c.kind != CollectiveKind::kBarrier && io.messages_sent() != 0) {
      return where + "count 0 but rank " + std::to_string(r) + " sent messages";
    }
  }
  if (size_t left = world_.Undelivered(); left != 0) {
    return where + std::to_string(left) + " messages were never received";
  }

  std::vector<double> reduced;
  if (c.kind == CollectiveKind::kAllreduce || c.kind == CollectiveKind::kReduce) {
    reduced = Reduced(c, c.count);
  } else if (c.kind == CollectiveKind::kReduceScatter) {
    reduced = Reduced(c, c.count * n);
  }
  for (int r = 0; r < c.size; ++r) {
    RankBuffers& b = buffers[static_cast<size_t>(r)];
    const std::string at = where + "rank " + std::to_string(r) + ": ";
    if (b.send && b.send->storage != b.send_snapshot) return at + "send buffer was modified";
    const std::byte* recv = b.recv->data();
    for (size_t j = 0; j < b.result_count; ++j) {
      double expected = 0;
      switch (c.kind) {
        case CollectiveKind::kAllreduce:
        case CollectiveKind::kReduce: expected = reduced[j]; break;
        case CollectiveKind::kReduceScatter:
          expected = reduced[static_cast<size_t>(r) * c.count + j];
          break;
        case CollectiveKind::kAllgather:
          expected = InputValue(static_cast<int>(j / c.count), j % c.count, c.dtype, c.op);
          break;
        case CollectiveKind::kBroadcast: expected = InputValue(c.root, j, c.dtype, c.op); break;
        case CollectiveKind::kAlltoall:
          expected = InputValue(static_cast<int>(j / c.count),
                                static_cast<size_t>(r) * c.count + j % c.count, c.dtype, c.op);
          break;
        default: break;
      }
      const double actual = LoadValue(c.dtype, recv, b.result_first + j);
      if (!Matches(c.dtype, c.op, actual, expected)) {
        return at + "element " + std::to_string(j) + " is " + std::to_string(actual) +
               ", expected " + std::to_string(expected);
      }
    }
    // Everything outside the result region must be exactly as before.
    const size_t result_begin = kGuardBytes + b.result_first * elem;
    const size_t result_end = result_begin + b.result_count * elem;
    const std::byte* now = b.recv->storage.data();
    const std::byte* before = b.recv_snapshot.data();
    const size_t total = b.recv->storage.size();
    if (std::memcmp(now, before, result_begin) != 0 ||
        std::memcmp(now + result_end, before + result_end, total - result_end) != 0) {
      return at + "the receive storage outside the result region (elements [" +
             std::to_string(b.result_first) + ", " +
             std::to_string(b.result_first + b.result_count) +
             ") after a " + std::to_string(kGuardBytes) + "-byte guard) was modified";
    }
  }
  return "";
}

}  // namespace cohort::testing
