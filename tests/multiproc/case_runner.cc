// Running one checked collective (see case_runner.h).
#include "tests/multiproc/case_runner.h"

#include <algorithm>
#include <cstring>

namespace cohort::check {

using bench::CheckCase;
using bench::Mismatch;

size_t RecvSpan(const CheckCase& c, bool in_place) {
  const size_t out = bench::OutputCount(c);
  return in_place ? std::max(bench::InputCount(c), out) : out;
}

CasePointers PlaceCase(const CheckCase& c, bool in_place, unsigned char* send_buffer,
                       unsigned char* recv_buffer) {
  if (!in_place) return {send_buffer, recv_buffer};
  const size_t mine = static_cast<size_t>(c.rank) * c.count * DataTypeSize(c.dtype);
  CasePointers p{recv_buffer, recv_buffer};
  if (c.kind == CollectiveKind::kAllgather) p.send += mine;
  if (c.kind == CollectiveKind::kReduceScatter) p.recv += mine;
  return p;
}

void PrepareCase(const CheckCase& c, bool in_place, unsigned char* recv_buffer,
                 const CasePointers& p) {
  bench::FillSentinel(recv_buffer, RecvSpan(c, in_place) + 1, c.dtype);
  bench::FillCheckInput(c, p.send);
}

WorkPtr IssueCollective(Communicator& comm, const CheckCase& c, const CasePointers& p,
                        bool async) {
  const BufferView s{p.send, bench::InputCount(c), c.dtype};
  const BufferView r{p.recv, bench::OutputCount(c), c.dtype};
  WorkPtr work;
  switch (c.kind) {
    case CollectiveKind::kAllreduce:
      if (async) work = comm.allreduce_async(s, r, c.op); else comm.allreduce(s, r, c.op);
      break;
    case CollectiveKind::kReduceScatter:
      if (async) work = comm.reduce_scatter_async(s, r, c.op); else comm.reduce_scatter(s, r, c.op);
      break;
    case CollectiveKind::kAllgather:
      if (async) work = comm.allgather_async(s, r); else comm.allgather(s, r);
      break;
    case CollectiveKind::kBroadcast:
      if (async) work = comm.broadcast_async(s, r, c.root); else comm.broadcast(s, r, c.root);
      break;
    case CollectiveKind::kReduce:
      if (async) work = comm.reduce_async(s, r, c.op, c.root); else comm.reduce(s, r, c.op, c.root);
      break;
    case CollectiveKind::kAlltoall:
      if (async) work = comm.alltoall_async(s, r); else comm.alltoall(s, r);
      break;
    default:
      throw InvalidArgument(StatusCode::kInvalidArgument,
                            "IssueCollective: " + std::string(CollectiveName(c.kind)) +
                                " is not a checked collective");
  }
  return work;
}

CaseOutcome CheckResult(const CheckCase& c, bool in_place, const unsigned char* recv_buffer,
                      const CasePointers& p) {
  CaseOutcome outcome;
  outcome.output = bench::CheckOutput(c, p.recv);
  if (!in_place) outcome.input = bench::CheckInputUnchanged(c, p.send);
  const size_t es = DataTypeSize(c.dtype);
  unsigned char sentinel[8];
  bench::FillSentinel(sentinel, 1, c.dtype);
  outcome.guard_overwritten =
      std::memcmp(recv_buffer + RecvSpan(c, in_place) * es, sentinel, es) != 0;
  return outcome;
}

std::string CaseOutcome::Describe(DataType dtype) const {
  std::string s;
  if (output.wrong != 0) {
    s = std::to_string(output.wrong) + " wrong elements, first at " +
        bench::DescribeMismatch(output, dtype);
  }
  if (input.wrong != 0) {
    s += (s.empty() ? "" : "; ") + std::string("send buffer changed by an out-of-place call: ") +
         bench::DescribeMismatch(input, dtype);
  }
  if (guard_overwritten) s += std::string(s.empty() ? "" : "; ") + "wrote past the receive buffer";
  return s;
}

std::string DescribeCase(const CheckCase& c, bool in_place, bool async) {
  std::string s =
      std::string(CollectiveName(c.kind)) + " dtype=" + std::string(DataTypeName(c.dtype));
  if (IsReduction(c.kind)) s += " op=" + std::string(ReduceOpName(c.op));
  if (HasRoot(c.kind)) s += " root=" + std::to_string(c.root);
  return s + " count=" + std::to_string(c.count) + (in_place ? " in-place" : " out-of-place") +
         (async ? " async" : "");
}

Mismatch ExchangeAndCheck(Communicator& comm, DataType dtype, size_t count, uint64_t seed, int to,
                          int from, bool send_first, unsigned char* out, unsigned char* in) {
  // `in` must end up as a broadcast from `from` would leave it: holding from's input.
  const CheckCase c{CollectiveKind::kBroadcast, dtype, ReduceOp::kSum, from, comm.rank(),
                    comm.size(), count, seed};
  bench::FillCheckInput(c, out);
  bench::FillSentinel(in, count + 1, dtype);
  WorkPtr s, r;
  if (send_first) s = comm.send_async({out, count, dtype}, to);
  r = comm.recv_async({in, count, dtype}, from);
  if (!send_first) s = comm.send_async({out, count, dtype}, to);
  s->wait();
  r->wait();
  Mismatch m = bench::CheckOutput(c, in);
  // The guard element after the receive buffer must still hold the sentinel.
  unsigned char sentinel[8];
  bench::FillSentinel(sentinel, 1, dtype);
  const size_t es = DataTypeSize(dtype);
  if (std::memcmp(in + count * es, sentinel, es) != 0 && m.wrong++ == 0) {
    m.first_index = count;
    m.got = bench::LoadElement(in, count, dtype);
    m.expected = bench::LoadElement(sentinel, 0, dtype);
  }
  return m;
}

}  // namespace cohort::check
