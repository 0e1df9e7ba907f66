// CopyStreaming (reduce.h): 16-byte non-temporal stores (SSE2, every x86-64 CPU; write-combining
// merges them into whole lines, so wider vectors would gain nothing on a memory-bound copy),
// with the destination aligned to a cache line first. Elsewhere a plain memcpy.
#include <cstdint>
#include <cstring>

#include "kernels/cpu/reduce.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cohort::kernels {

void CopyStreaming(void* dst, const void* src, size_t bytes) {
#if defined(__SSE2__)
  constexpr size_t kLine = 64;
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  if (bytes < 4 * kLine) {
    std::memcpy(d, s, bytes);
    return;
  }
  const size_t head = (kLine - reinterpret_cast<uintptr_t>(d) % kLine) % kLine;
  std::memcpy(d, s, head);
  d += head;
  s += head;
  bytes -= head;
  for (; bytes >= kLine; bytes -= kLine, d += kLine, s += kLine) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
    const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
  }
  std::memcpy(d, s, bytes);
  _mm_sfence();
#else
  std::memcpy(dst, src, bytes);
#endif
}

}  // namespace cohort::kernels
