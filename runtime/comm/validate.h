// Turns a public call's BufferViews into CollectiveArgs, refusing anything inconsistent with a
// message that names the values, the rank and what to do.
#pragma once

#include "collectives/collective_args.h"
#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort {

struct CallShape {
  CollectiveKind kind;
  int rank;
  int size;
};

Result<CollectiveArgs> ValidateCollective(const CallShape& shape, const BufferView& send,
                                          const BufferView& recv, ReduceOp op, int root);
// Checks a send/recv buffer and peer for point-to-point calls.
Status ValidatePointToPoint(const CallShape& shape, const BufferView& buffer, int peer);

}  // namespace cohort
