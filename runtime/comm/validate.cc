#include "runtime/comm/validate.h"

#include <string>

#include "collectives/args_check.h"
#include "runtime/device/cuda_runtime.h"

namespace cohort {

namespace {

std::string Where(const CallShape& shape) {
  return std::string(CollectiveName(shape.kind)) + " on rank " + std::to_string(shape.rank) + ": ";
}

// A CUDA buffer must be on a device this rank can use, and its pointer must really be memory
// of that device (a host pointer described as CUDA would crash inside a kernel or NCCL).
Status CheckDevice(const CallShape& shape, const BufferView& buffer, const char* role) {
  if (buffer.device.is_cpu()) return Status::Ok();
  Status usable = cuda::CheckDevice(buffer.device, shape.rank);
  if (!usable.ok()) {
    return Status(usable.code(), Where(shape) + role + " buffer: " + usable.message());
  }
  if (buffer.data == nullptr || buffer.count == 0) return Status::Ok();
  Device actual = cuda::PointerDevice(buffer.data);
  if (actual != buffer.device) {
    return InvalidArgumentError(Where(shape) + role + " buffer is described as " +
                                buffer.device.ToString() + " but its pointer is " +
                                (actual.is_cpu() ? std::string("host memory")
                                                 : "memory of " + actual.ToString()) +
                                "; describe the buffer with the device it lives on");
  }
  return Status::Ok();
}

Status CheckCount(const CallShape& shape, const char* what, size_t got, size_t expected,
                  const char* rule) {
  if (got == expected) return Status::Ok();
  return InvalidArgumentError(Where(shape) + what + " has " + std::to_string(got) +
                              " elements but " + std::to_string(expected) + " are needed (" +
                              rule + ")");
}

}  // namespace

Result<CollectiveArgs> ValidateCollective(const CallShape& shape, const BufferView& send,
                                          const BufferView& recv, ReduceOp op, int root) {
  const size_t n = static_cast<size_t>(shape.size);
  const bool is_root = shape.rank == root;
  // Which buffers this rank really uses.
  const bool uses_send = !(shape.kind == CollectiveKind::kBroadcast && !is_root);
  const bool uses_recv = !(shape.kind == CollectiveKind::kReduce && !is_root);
  if (uses_send && uses_recv && send.device != recv.device) {
    return InvalidArgumentError(Where(shape) + "send buffer is on " + send.device.ToString() +
                                " but recv buffer is on " + recv.device.ToString() +
                                "; both must be on the same device");
  }
  if (uses_send) COHORT_RETURN_IF_ERROR(CheckDevice(shape, send, "send"));
  if (uses_recv) COHORT_RETURN_IF_ERROR(CheckDevice(shape, recv, "recv"));
  if (uses_send && uses_recv && send.dtype != recv.dtype) {
    return InvalidArgumentError(Where(shape) + "send dtype " +
                                std::string(DataTypeName(send.dtype)) + " differs from recv dtype " +
                                std::string(DataTypeName(recv.dtype)));
  }

  CollectiveArgs args;
  args.kind = shape.kind;
  args.send = send.data;
  args.recv = recv.data;
  args.dtype = uses_send ? send.dtype : recv.dtype;
  args.op = op;
  args.root = root;
  args.device = uses_send ? send.device : recv.device;
  switch (shape.kind) {
    case CollectiveKind::kAllreduce:
      COHORT_RETURN_IF_ERROR(CheckCount(shape, "recv", recv.count, send.count, "same as send"));
      args.count = send.count;
      break;
    case CollectiveKind::kBroadcast:
      if (is_root) {
        COHORT_RETURN_IF_ERROR(CheckCount(shape, "recv", recv.count, send.count, "same as send"));
      }
      args.count = recv.count;
      if (!is_root) args.send = recv.data;
      break;
    case CollectiveKind::kReduce:
      if (is_root) {
        COHORT_RETURN_IF_ERROR(CheckCount(shape, "recv", recv.count, send.count, "same as send"));
      }
      args.count = send.count;
      break;
    case CollectiveKind::kReduceScatter:
      COHORT_RETURN_IF_ERROR(
          CheckCount(shape, "send", send.count, recv.count * n, "world size x recv count"));
      args.count = recv.count;
      break;
    case CollectiveKind::kAllgather:
      COHORT_RETURN_IF_ERROR(
          CheckCount(shape, "recv", recv.count, send.count * n, "world size x send count"));
      args.count = send.count;
      break;
    case CollectiveKind::kAlltoall:
      COHORT_RETURN_IF_ERROR(CheckCount(shape, "recv", recv.count, send.count, "same as send"));
      if (send.count % n != 0) {
        return InvalidArgumentError(Where(shape) + "send count " + std::to_string(send.count) +
                                    " is not divisible by the world size " +
                                    std::to_string(n) + "; alltoall sends count/size to each rank");
      }
      args.count = send.count / n;
      break;
    default:
      return InternalError(Where(shape) + "not a collective with buffers");
  }
  // Op, root, null buffers and the in-place layouts: the same rules the algorithms apply.
  COHORT_RETURN_IF_ERROR(CheckCollectiveArgs(args, shape.rank, shape.size));
  return args;
}

Status ValidatePointToPoint(const CallShape& shape, const BufferView& buffer, int peer) {
  COHORT_RETURN_IF_ERROR(CheckDevice(shape, buffer, "message"));
  if (buffer.data == nullptr && buffer.count > 0) {
    return InvalidArgumentError(Where(shape) + "message buffer is null but count is " +
                                std::to_string(buffer.count));
  }
  if (peer < 0 || peer >= shape.size || peer == shape.rank) {
    return InvalidArgumentError(Where(shape) + "peer " + std::to_string(peer) +
                                " is invalid: it must be another rank in [0, " +
                                std::to_string(shape.size) + ")");
  }
  return Status::Ok();
}

}  // namespace cohort
