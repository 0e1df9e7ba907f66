// cohort-membw: the memory-bandwidth reference that the one-host benchmark prints next to the
// collectives. N processes (as many as the collective's ranks) copy their own large buffers at
// the same time, started together through a shared-memory barrier, and the program reports the
// total memory traffic (bytes read + bytes written per second, all processes together):
//   memcpy    glibc's memcpy (what a plain copy achieves; its stores may read each line first)
//   stream    a copy with non-temporal stores (read + write, nothing else: the raw ceiling)
// From that it derives the busbw ceiling of an allreduce that moves `--traffic` bytes through
// memory per byte of message on each rank (2.5 by default: read the input once, write the output
// once, and half a pass of cache misses), as the issue the one-host work came from reasons:
//   algbw ceiling = stream traffic / (ranks * traffic), busbw = algbw * 2 (n-1) / n.
// Buffers are allocated and touched before timing; each process times the middle of its run.
//   cohort-membw --procs 2 [--mib 256] [--seconds 2] [--traffic 2.5] [--json FILE]
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {

// memcpy with non-temporal stores (16-byte SSE2 stores; write-combining makes whole lines).
void CopyStreaming(char* dst, const char* src, size_t bytes) {
#if defined(__SSE2__)
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    for (size_t j = 0; j < 64; j += 16) {
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + j),
                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + j)));
    }
  }
  std::memcpy(dst + i, src + i, bytes - i);
  _mm_sfence();
#else
  std::memcpy(dst, src, bytes);
#endif
}

struct Options {
  int procs = 2;
  size_t mib = 256;
  double seconds = 2.0;
  double traffic = 2.5;
  std::string json;
};

// Shared between the processes: the start barrier and each process's result.
struct Shared {
  std::atomic<int> ready;
  std::atomic<int> go;
  double gbps[2][64];  // [mode][process]: bytes read + written per second, in GB/s
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "cohort-membw: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (arg == "--procs" && (v = value("--procs"))) {
      o->procs = std::atoi(v);
    } else if (arg == "--mib" && (v = value("--mib"))) {
      o->mib = std::strtoull(v, nullptr, 10);
    } else if (arg == "--seconds" && (v = value("--seconds"))) {
      o->seconds = std::atof(v);
    } else if (arg == "--traffic" && (v = value("--traffic"))) {
      o->traffic = std::atof(v);
    } else if (arg == "--json" && (v = value("--json"))) {
      o->json = v;
    } else {
      std::fprintf(stderr,
                   "usage: cohort-membw --procs N [--mib 256] [--seconds 2] [--traffic 2.5] "
                   "[--json FILE]\n");
      return false;
    }
  }
  if (o->procs < 1 || o->procs > 64 || o->mib < 1 || o->seconds <= 0 || o->traffic <= 0) {
    std::fprintf(stderr, "cohort-membw: --procs must be 1..64, --mib, --seconds, --traffic > 0\n");
    return false;
  }
  return true;
}

// A buffer of `bytes` on transparent huge pages where the kernel allows (first touch of 4 KiB
// pages is very slow on some hosts), touched before any timing.
char* TouchedBuffer(size_t bytes, int fill) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("cohort-membw: mmap");
    _exit(1);
  }
  madvise(p, bytes, MADV_HUGEPAGE);  // faster first touch; bandwidth is the same with 4 KiB pages
  std::memset(p, fill, bytes);
  return static_cast<char*>(p);
}

// Copies `bytes` back and forth for `seconds` after the shared start; returns GB/s of traffic.
double Measure(Shared* shared, size_t bytes, double seconds, bool stream) {
  char* a = TouchedBuffer(bytes, 1);
  char* b = TouchedBuffer(bytes, 2);
  shared->ready.fetch_add(1);
  while (shared->go.load() == 0) {
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  size_t copied = 0;
  // Skip the first copy (everyone starts at once; stragglers would inflate the others).
  Clock::time_point timed_start{};
  for (int i = 0;; ++i) {
    char* dst = (i % 2 == 0) ? b : a;
    const char* src = (i % 2 == 0) ? a : b;
    if (stream) {
      CopyStreaming(dst, src, bytes);
    } else {
      std::memcpy(dst, src, bytes);
    }
    const auto now = Clock::now();
    if (i == 0) {
      timed_start = now;
      continue;
    }
    copied += bytes;
    if (std::chrono::duration<double>(now - start).count() >= seconds) {
      const double elapsed = std::chrono::duration<double>(now - timed_start).count();
      return 2.0 * static_cast<double>(copied) / elapsed / 1e9;  // read + write
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  auto* shared = static_cast<Shared*>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (shared == MAP_FAILED) {
    std::perror("cohort-membw: mmap");
    return 1;
  }
  new (shared) Shared{};
  const size_t bytes = o.mib << 20;
  for (int mode = 0; mode < 2; ++mode) {
    shared->ready.store(0);
    shared->go.store(0);
    for (int p = 0; p < o.procs; ++p) {
      if (fork() == 0) {
        shared->gbps[mode][p] = Measure(shared, bytes, o.seconds, mode == 1);
        _exit(0);
      }
    }
    while (shared->ready.load() < o.procs) usleep(1000);
    shared->go.store(1);
    for (int p = 0; p < o.procs; ++p) wait(nullptr);
  }
  double total[2] = {0, 0};
  for (int mode = 0; mode < 2; ++mode) {
    for (int p = 0; p < o.procs; ++p) total[mode] += shared->gbps[mode][p];
  }
  const int n = o.procs;
  const double algbw = total[1] / (n * o.traffic);
  const double busbw = n > 1 ? algbw * 2.0 * (n - 1) / n : algbw;
  std::printf("# cohort-membw: %d processes copying %zu MiB each, %.1f s\n", n, o.mib, o.seconds);
  std::printf("memory traffic (read + write), all processes: memcpy %.1f GB/s, streaming %.1f GB/s\n",
              total[0], total[1]);
  std::printf("allreduce ceiling at %.2f bytes of traffic per byte per rank: algbw %.2f GB/s, "
              "busbw %.2f GB/s\n", o.traffic, algbw, busbw);
  if (!o.json.empty()) {
    std::ofstream json(o.json);
    json << "{\"procs\": " << n << ", \"mib\": " << o.mib << ", \"memcpy_gbps\": " << total[0]
         << ", \"stream_gbps\": " << total[1] << ", \"traffic\": " << o.traffic
         << ", \"allreduce_algbw_ceiling\": " << algbw << ", \"allreduce_busbw_ceiling\": " << busbw
         << "}\n";
    if (!json.good()) {
      std::fprintf(stderr, "cohort-membw: cannot write %s\n", o.json.c_str());
      return 1;
    }
  }
  return 0;
}
