// Argument checks shared by every algorithm: what is a caller's mistake (wrong op for the dtype,
// root out of range, missing or partially overlapping buffers, sizes that overflow) is refused up
// front with InvalidArgumentError, before any message is posted, so all ranks fail alike.
// Also the in-place rules of collective_args.h and the bytes each side of a call holds.
#pragma once

#include <cstddef>

#include "collectives/collective_args.h"
#include "collectives/peer_io.h"

namespace cohort {

// The checks every caller of a collective needs, whoever it is (the communicator before queueing
// a call, each algorithm before posting a message): op valid for the dtype, root in range,
// buffers present, byte counts within size_t, and no partial overlap except the in-place
// layouts. InvalidArgumentError naming the collective, rank, count and dtype.
Status CheckCollectiveArgs(const CollectiveArgs& args, int rank, int size);

}  // namespace cohort

namespace cohort::detail {

// Elements the send / receive buffer of this rank holds for args (0 where the buffer is unused,
// e.g. the receive buffer of a non-root reduce, the send buffer of a non-root broadcast).
size_t SendCount(const CollectiveArgs& args, int rank, int size);
size_t RecvCount(const CollectiveArgs& args, int rank, int size);

// Whether the call is in place per collective_args.h.
bool IsInPlace(const CollectiveArgs& args, int rank, int size);

// Checks args for a collective of `expected` kind on this rank. `algorithm` names the caller in
// messages ("ring allreduce").
Status ValidateArgs(const PeerIo& io, const CollectiveArgs& args, CollectiveKind expected,
                    const char* algorithm);

}  // namespace cohort::detail
