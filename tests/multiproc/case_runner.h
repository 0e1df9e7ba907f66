// Running one checked collective on a communicator, shared by collective_check (every case of
// the matrix once) and the soak program (random cases for minutes, buffers reused): where the
// send and receive pointers lie in caller-owned buffers, filling them, issuing the call
// (blocking or async) and checking every element afterwards. Values and expected results come
// from benchmarks/cohort_bench/expected.h. Not thread-safe (one caller per communicator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "benchmarks/cohort_bench/expected.h"
#include "runtime/cohort.h"

namespace cohort::check {

// A case's pointers inside the caller's buffers. Out of place: `send` and `recv` are the two
// buffers. In place: both lie in the receive buffer where collectives/collective_args.h puts
// them (allgather sends from this rank's block, reduce_scatter receives into it).
struct CasePointers {
  unsigned char* send = nullptr;
  unsigned char* recv = nullptr;
};

// Elements the receive buffer of a case spans (in place it holds the input too), not counting
// the guard element after it that PrepareCase and CheckResult use: buffers need RecvSpan + 1
// elements.
size_t RecvSpan(const bench::CheckCase& c, bool in_place);
CasePointers PlaceCase(const bench::CheckCase& c, bool in_place, unsigned char* send_buffer,
                       unsigned char* recv_buffer);

// Writes the sentinel over the receive buffer's span and guard element, then this rank's input.
void PrepareCase(const bench::CheckCase& c, bool in_place, unsigned char* recv_buffer,
                 const CasePointers& p);

// Issues collective c.kind (not barrier or send/recv). Blocking: returns nullptr once done.
// Async: returns the Work, which the caller waits for before checking. Throws what the
// communicator throws.
WorkPtr IssueCollective(Communicator& comm, const bench::CheckCase& c, const CasePointers& p,
                        bool async);

// What a finished case left wrong: output elements, (out of place) changed input elements, and
// whether the guard element after the receive span was overwritten.
struct CaseOutcome {
  bench::Mismatch output;
  bench::Mismatch input;
  bool guard_overwritten = false;
  bool ok() const { return output.wrong == 0 && input.wrong == 0 && !guard_overwritten; }
  std::string Describe(DataType dtype) const;
};
CaseOutcome CheckResult(const bench::CheckCase& c, bool in_place, const unsigned char* recv_buffer,
                      const CasePointers& p);

// "allreduce dtype=f32 op=sum count=7 out-of-place async".
std::string DescribeCase(const bench::CheckCase& c, bool in_place, bool async);

// Sends `count` elements of this rank's input to rank `to` while receiving rank `from`'s into
// `in`, then checks `in` (values as a broadcast from `from` with `seed` would leave them).
// The communicator runs operations in call order, so a rank that posts its receive first waits
// for it before its send starts: the caller picks `send_first` so that no cycle of ranks all
// wait to receive. `out` and `in` hold count + 1 elements.
bench::Mismatch ExchangeAndCheck(Communicator& comm, DataType dtype, size_t count, uint64_t seed,
                                 int to, int from, bool send_first, unsigned char* out,
                                 unsigned char* in);

}  // namespace cohort::check
