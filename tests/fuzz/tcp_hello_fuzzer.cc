// Fuzz target: the hello that opens every tcp link after the handshake (runtime/transport/
// tcp_connect.h, detail::DecodeTcpHello), checked by an acceptor with fuzzer-chosen world size,
// stream count and slots still expected. Half of the inputs splice in a hello made by
// MakeTcpHello, so the accepting paths are reached. Properties: an accepted hello names an
// expected, in-range [rank][stream] slot and is exactly the bytes MakeTcpHello sends for it; a
// stream-count refusal names a count that differs from the acceptor's; MakeTcpHello's hello for
// an expected slot is always accepted.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/transport/tcp_connect.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  FuzzInput in(data, size);
  const int world = in.ConsumeIntegralInRange<int>(1, 9);
  const int nstreams = in.ConsumeIntegralInRange<int>(1, 64);
  std::vector<std::vector<bool>> expected(static_cast<size_t>(world));
  for (auto& slots : expected) {
    if (in.ConsumeBool()) continue;  // this rank does not connect here
    slots.resize(static_cast<size_t>(nstreams));
    for (size_t s = 0; s < slots.size(); ++s) slots[s] = in.ConsumeIntegralInRange<int>(0, 3) != 0;
  }
  const std::string address = "10.0.0.2:41234";

  // MakeTcpHello -> DecodeTcpHello for a slot the acceptor expects.
  const int rank = in.ConsumeIntegralInRange<int>(0, world - 1);
  const int stream = in.ConsumeIntegralInRange<int>(0, nstreams - 1);
  detail::TcpHello made = detail::MakeTcpHello(rank, world, stream, nstreams);
  uint8_t bytes[sizeof(detail::TcpHello)];
  std::memcpy(bytes, &made, sizeof(bytes));
  detail::TcpHelloVerdict own =
      detail::DecodeTcpHello(bytes, sizeof(bytes), address, world, nstreams, expected);
  const auto& own_slots = expected[static_cast<size_t>(rank)];
  const bool slot_open = !own_slots.empty() && own_slots[static_cast<size_t>(stream)];
  FUZZ_CHECK(own.status.ok() == slot_open, "MakeTcpHello's hello for rank %d stream %d: %s",
             rank, stream, own.status.ToString().c_str());

  // Whatever a connection sends: the fuzzer's bytes, or the made hello with some bytes changed.
  std::vector<uint8_t> hello;
  if (in.ConsumeBool()) {
    hello.assign(bytes, bytes + sizeof(bytes));
    const size_t changes = in.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < changes; ++i) {
      const size_t at = in.ConsumeIntegralInRange<size_t>(0, hello.size() - 1);
      hello[at] = in.ConsumeIntegral<uint8_t>();
    }
  } else {
    hello = in.ConsumeRemainingBytes<uint8_t>();
  }
  detail::TcpHelloVerdict verdict =
      detail::DecodeTcpHello(hello.data(), hello.size(), address, world, nstreams, expected);
  if (verdict.status.ok()) {
    FUZZ_CHECK(verdict.rank < expected.size() && verdict.stream < expected[verdict.rank].size() &&
                   expected[verdict.rank][verdict.stream],
               "accepted rank %zu stream %zu, which is not an expected slot", verdict.rank,
               verdict.stream);
    FUZZ_CHECK(!verdict.other_stream_count, "accepted and refused at once");
    detail::TcpHello again = detail::MakeTcpHello(static_cast<int>(verdict.rank), world,
                                                  static_cast<int>(verdict.stream), nstreams);
    FUZZ_CHECK(hello.size() == sizeof(again) &&
                   std::memcmp(hello.data(), &again, sizeof(again)) == 0,
               "an accepted hello is not the one MakeTcpHello sends for its slot");
  } else if (verdict.other_stream_count) {
    FUZZ_CHECK(verdict.nstreams != nstreams && verdict.rank < expected.size() &&
                   !expected[verdict.rank].empty(),
               "a stream-count refusal for count %d (acceptor %d)", verdict.nstreams, nstreams);
  }
  return 0;
}
