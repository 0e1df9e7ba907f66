// Argument checks; see args_check.h.
#include "collectives/args_check.h"

#include <cstdint>
#include <string>

namespace cohort::detail {
namespace {

const char* Bytes(const void* p) { return static_cast<const char*>(p); }

std::string Describe(const CollectiveArgs& args, int rank) {
  return std::string(CollectiveName(args.kind)) + " on rank " + std::to_string(rank) +
         " (count " + std::to_string(args.count) + ", dtype " +
         std::string(DataTypeName(args.dtype)) + ")";
}

}  // namespace

size_t SendCount(const CollectiveArgs& args, int rank, int size) {
  const size_t n = static_cast<size_t>(size);
  switch (args.kind) {
    case CollectiveKind::kAllreduce:
    case CollectiveKind::kReduce:
    case CollectiveKind::kAllgather: return args.count;
    case CollectiveKind::kBroadcast: return rank == args.root ? args.count : 0;
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAlltoall: return args.count * n;
    default: return 0;
  }
}

size_t RecvCount(const CollectiveArgs& args, int rank, int size) {
  const size_t n = static_cast<size_t>(size);
  switch (args.kind) {
    case CollectiveKind::kAllreduce:
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduceScatter: return args.count;
    case CollectiveKind::kReduce: return rank == args.root ? args.count : 0;
    case CollectiveKind::kAllgather:
    case CollectiveKind::kAlltoall: return args.count * n;
    default: return 0;
  }
}

bool IsInPlace(const CollectiveArgs& args, int rank, int size) {
  (void)size;
  const size_t offset = static_cast<size_t>(rank) * args.count * args.element_bytes();
  switch (args.kind) {
    case CollectiveKind::kReduceScatter: return Bytes(args.recv) == Bytes(args.send) + offset;
    case CollectiveKind::kAllgather: return Bytes(args.send) == Bytes(args.recv) + offset;
    default: return Bytes(args.send) == Bytes(args.recv);
  }
}

Status ValidateArgs(const PeerIo& io, const CollectiveArgs& args, CollectiveKind expected,
                    const char* algorithm) {
  const int rank = io.rank();
  const int size = io.size();
  if (args.kind != expected) {
    return InvalidArgumentError(std::string(algorithm) + " implements " +
                                std::string(CollectiveName(expected)) + " but was called for " +
                                std::string(CollectiveName(args.kind)));
  }
  if (size < 1 || rank < 0 || rank >= size) {
    return InvalidArgumentError(std::string(algorithm) + ": rank " + std::to_string(rank) +
                                " is not in a world of size " + std::to_string(size));
  }
  return CheckCollectiveArgs(args, rank, size);
}

}  // namespace cohort::detail

namespace cohort {

Status CheckCollectiveArgs(const CollectiveArgs& args, int rank, int size) {
  using namespace detail;
  if (IsReduction(args.kind)) {
    Status supported = CheckOpSupported(args.op, args.dtype);
    if (!supported.ok()) return InvalidArgumentError(Describe(args, rank) + ": " + supported.message());
  }
  if (HasRoot(args.kind) && (args.root < 0 || args.root >= size)) {
    return InvalidArgumentError(Describe(args, rank) + ": root " + std::to_string(args.root) +
                                " is out of range [0, " + std::to_string(size) + ")");
  }
  if (args.kind == CollectiveKind::kBarrier || args.count == 0) return Status::Ok();
  // The largest buffer is size * count elements; refuse counts whose bytes overflow size_t.
  const size_t elem = args.element_bytes();
  if (args.count > SIZE_MAX / elem / static_cast<size_t>(size)) {
    return InvalidArgumentError(Describe(args, rank) + ": count times world size " +
                                std::to_string(size) + " overflows the address space");
  }
  const size_t send_bytes = SendCount(args, rank, size) * elem;
  const size_t recv_bytes = RecvCount(args, rank, size) * elem;
  if (send_bytes > 0 && args.send == nullptr) {
    return InvalidArgumentError(Describe(args, rank) + ": send buffer is null");
  }
  if (recv_bytes > 0 && args.recv == nullptr) {
    return InvalidArgumentError(Describe(args, rank) + ": receive buffer is null");
  }
  if (send_bytes > 0 && recv_bytes > 0 && !IsInPlace(args, rank, size)) {
    const uintptr_t s = reinterpret_cast<uintptr_t>(args.send);
    const uintptr_t r = reinterpret_cast<uintptr_t>(args.recv);
    if (s < r + recv_bytes && r < s + send_bytes) {
      return InvalidArgumentError(
          Describe(args, rank) +
          ": send and receive buffers overlap but are not in place (see "
          "collectives/collective_args.h for the in-place layouts); use separate buffers");
    }
  }
  return Status::Ok();
}

}  // namespace cohort
