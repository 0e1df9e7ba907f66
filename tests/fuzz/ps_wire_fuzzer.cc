// Fuzz target: the parameter store's message bodies (runtime/ps/wire.h), which a server decodes
// from any worker's link and a worker from any server's reply. The first byte picks the decoder
// (key, optimizer, init, load, save reply). Properties: what decodes re-encodes to as many bytes
// as it read, and that encoding decodes again to itself (a decoded body is one the encoder can
// produce); reads never run past the body; no count field makes a decoder allocate beyond what
// the body can hold (-malloc_limit_mb catches a count believed before its bytes exist).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/ps/wire.h"
#include "tests/fuzz/fuzz_check.h"

namespace cohort::ps {
namespace {

template <typename T, typename Get, typename Put>
void RoundTrip(const std::vector<uint8_t>& body, Get get, Put put, const char* what) {
  T decoded{};
  ByteReader reader(body.data(), body.size());
  if (!get(reader, &decoded).ok()) return;
  FUZZ_CHECK(reader.left() <= body.size(), "%s: read past the body", what);
  ByteWriter first;
  put(first, decoded);
  FUZZ_CHECK(first.bytes().size() == body.size() - reader.left(),
             "%s: %zu body bytes re-encode to %zu", what, body.size() - reader.left(),
             first.bytes().size());
  T again{};
  ByteReader second_reader(first.bytes().data(), first.bytes().size());
  Status status = get(second_reader, &again);
  FUZZ_CHECK(status.ok(), "%s: its own encoding does not decode: %s", what,
             status.ToString().c_str());
  FUZZ_CHECK(second_reader.left() == 0, "%s: its own encoding leaves %zu bytes", what,
             second_reader.left());
  ByteWriter second;
  put(second, again);
  FUZZ_CHECK(second.bytes() == first.bytes(), "%s: encode -> decode -> encode changed it", what);
}

}  // namespace
}  // namespace cohort::ps

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::ps;
  if (size == 0) return 0;
  const std::vector<uint8_t> body(data + 1, data + size);
  switch (data[0] % 5) {
    case 0:
      RoundTrip<KeySpec>(body, GetKey, PutKey, "key");
      break;
    case 1:
      RoundTrip<cohort::OptimizerSpec>(body, GetOptimizer, PutOptimizer, "optimizer");
      break;
    case 2:
      RoundTrip<InitBody>(body, GetInit, PutInit, "init");
      break;
    case 3:
      RoundTrip<LoadBody>(body, GetLoad, PutLoad, "load");
      break;
    case 4:
      RoundTrip<SaveReply>(body, GetSaveReply, PutSaveReply, "save reply");
      break;
  }
  return 0;
}
