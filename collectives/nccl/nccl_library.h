// NcclLibrary: libnccl.so.2 loaded at run time with dlopen, never linked, so that one build of
// cohort runs on hosts without NCCL (CUDA collectives then go through the staged path).
//
// cohort compiles against nccl.h for its types and constants only; every NCCL function is called
// through the pointers in NcclLibrary::fn, resolved with dlsym when the library loads. Loading
// checks ncclGetVersion against kMinNcclVersion and resolves every symbol up front, so a library
// that is too old or incomplete is refused at load time with a message naming the version or
// the symbol, never with a crash in the middle of a collective.
//
// Ownership: a loaded library is shared (shared_ptr) by every NcclComm made from it. dlopen
// handles are never closed: NCCL starts threads (proxy, bootstrap) that can outlive any one
// communicator, and unmapping code under a running thread crashes the process.
// Thread safety: Load may be called from any thread; a loaded NcclLibrary is immutable.
// Blocking: Load runs the dynamic loader (milliseconds) and nothing else; no NCCL call but
// ncclGetVersion is made.
#pragma once

#include <nccl.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"

namespace cohort {

// The oldest NCCL whose API covers everything this backend calls: ncclCommInitRankConfig with
// config.blocking, ncclCommFinalize and non-blocking communicators all arrived in 2.14.3 (the
// first 2.14 release); ncclGetLastError and ncclRemoteError in 2.13; ncclAvg and ncclBfloat16
// in 2.10; ncclSend/ncclRecv in 2.7; ncclCommAbort and ncclCommGetAsyncError in 2.4. Compiling
// against a newer nccl.h is safe: an older library copies only the prefix of ncclConfig_t it
// knows (it clamps config.size), and we set no field but `blocking`.
inline constexpr int kMinNcclVersion = 21403;  // 2.14.3

// NCCL's version code as "2.28.3". Codes below 10000 use NCCL's old encoding (2.8.4 = 2804).
std::string NcclVersionString(int version_code);

// Every NCCL entry point the backend uses. The names match the C API without the "nccl" prefix.
struct NcclFunctions {
  decltype(&::ncclGetVersion) GetVersion = nullptr;
  decltype(&::ncclGetErrorString) GetErrorString = nullptr;
  decltype(&::ncclGetLastError) GetLastError = nullptr;
  decltype(&::ncclGetUniqueId) GetUniqueId = nullptr;
  decltype(&::ncclCommInitRankConfig) CommInitRankConfig = nullptr;
  decltype(&::ncclCommFinalize) CommFinalize = nullptr;
  decltype(&::ncclCommDestroy) CommDestroy = nullptr;
  decltype(&::ncclCommAbort) CommAbort = nullptr;
  decltype(&::ncclCommGetAsyncError) CommGetAsyncError = nullptr;
  decltype(&::ncclAllReduce) AllReduce = nullptr;
  decltype(&::ncclReduceScatter) ReduceScatter = nullptr;
  decltype(&::ncclAllGather) AllGather = nullptr;
  decltype(&::ncclBroadcast) Broadcast = nullptr;
  decltype(&::ncclReduce) Reduce = nullptr;
  decltype(&::ncclSend) Send = nullptr;
  decltype(&::ncclRecv) Recv = nullptr;
  decltype(&::ncclGroupStart) GroupStart = nullptr;
  decltype(&::ncclGroupEnd) GroupEnd = nullptr;
};

class NcclLibrary {
 public:
  // Loads NCCL. `configured_path` is Config::nccl_library (COHORT_NCCL_LIBRARY): when set, only
  // that path (or name) is tried, because a user who names a library means that one. When empty,
  // tries libnccl.so.2 through the dynamic loader (LD_LIBRARY_PATH, ldconfig), then
  // /usr/local/cuda/lib, /usr/local/cuda/lib64 and $NCCL_HOME/lib. Uses the first candidate that
  // loads, is at least kMinNcclVersion and has every symbol; otherwise the error (kUnimplemented)
  // lists every candidate with why it was refused (dlerror(), version, missing symbols) and what
  // to do. Successful loads are cached per candidate list for the life of the process.
  static Result<std::shared_ptr<const NcclLibrary>> Load(const std::string& configured_path);
  // The candidates Load tries, in order (exposed for tests and for error messages).
  static std::vector<std::string> CandidatePaths(const std::string& configured_path,
                                                 const std::string& nccl_home);
  // Tries `candidates` in order, without the process-wide cache (tests use it with fakes).
  static Result<std::shared_ptr<const NcclLibrary>> LoadFirst(
      const std::vector<std::string>& candidates);

  NcclLibrary(const NcclLibrary&) = delete;
  NcclLibrary& operator=(const NcclLibrary&) = delete;

  const NcclFunctions& fn() const { return fn_; }
  int version() const { return version_; }                 // e.g. 22803
  std::string version_string() const { return NcclVersionString(version_); }  // "2.28.3"
  const std::string& path() const { return path_; }        // file actually loaded

 private:
  NcclLibrary() = default;
  // Opens `candidate` into this object: Ok, or why that candidate is unusable.
  Status Open(const std::string& candidate);

  NcclFunctions fn_;
  int version_ = 0;
  std::string path_;
};

}  // namespace cohort
