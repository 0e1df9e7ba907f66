// Loading libnccl.so.2 with dlopen: candidates, version check, symbol resolution, per-path cache.
#include "collectives/nccl/nccl_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>

namespace cohort {
namespace {

// Why one candidate was not used, for the final error message.
struct Rejection {
  std::string candidate;
  std::string reason;
};

std::string DlError() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown dynamic loader error";
}

// dlsym returns an object pointer; POSIX guarantees it converts to the function's pointer type.
template <typename Fn>
void Resolve(void* handle, const char* name, Fn* slot, std::vector<std::string>* missing) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    missing->push_back(name);
    return;
  }
  *slot = reinterpret_cast<Fn>(symbol);
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace

std::string NcclVersionString(int code) {
  // NCCL_VERSION(X,Y,Z) is X*1000+Y*100+Z up to 2.8 and X*10000+Y*100+Z from 2.9 on, so codes
  // of the old form are all below 10000 and those of the new one all above.
  int major = code >= 10000 ? code / 10000 : code / 1000;
  int minor = code >= 10000 ? (code % 10000) / 100 : (code % 1000) / 100;
  int patch = code % 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::vector<std::string> NcclLibrary::CandidatePaths(const std::string& configured_path,
                                                     const std::string& nccl_home) {
  if (!configured_path.empty()) return {configured_path};
  std::vector<std::string> paths = {"libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2",
                                    "/usr/local/cuda/lib64/libnccl.so.2"};
  if (!nccl_home.empty()) paths.push_back(nccl_home + "/lib/libnccl.so.2");
  return paths;
}

Status NcclLibrary::Open(const std::string& candidate) {
  dlerror();  // clear any stale message
  // RTLD_LOCAL keeps NCCL's symbols (and its bundled dependencies') out of the global namespace.
  void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    // dlerror() usually starts with the name itself; the caller prints the name already.
    std::string error = DlError();
    if (error.rfind(candidate + ": ", 0) == 0) error.erase(0, candidate.size() + 2);
    return UnimplementedError(error);
  }
  // A rejected library is closed again: nothing but ncclGetVersion ran, so no NCCL thread exists.
  auto reject = [&](std::string reason) {
    dlclose(handle);
    return UnimplementedError(std::move(reason));
  };

  std::vector<std::string> missing;
  Resolve(handle, "ncclGetVersion", &fn_.GetVersion, &missing);
  if (!missing.empty()) return reject("no symbol ncclGetVersion (not an NCCL library?)");
  int code = 0;
  ncclResult_t result = fn_.GetVersion(&code);
  if (result != ncclSuccess) {
    return reject("ncclGetVersion failed with result " + std::to_string(static_cast<int>(result)));
  }
  if (code < kMinNcclVersion) {
    return reject("NCCL " + NcclVersionString(code) + " is older than " +
                  NcclVersionString(kMinNcclVersion) + ", the oldest version cohort supports");
  }

  Resolve(handle, "ncclGetErrorString", &fn_.GetErrorString, &missing);
  Resolve(handle, "ncclGetLastError", &fn_.GetLastError, &missing);
  Resolve(handle, "ncclGetUniqueId", &fn_.GetUniqueId, &missing);
  Resolve(handle, "ncclCommInitRankConfig", &fn_.CommInitRankConfig, &missing);
  Resolve(handle, "ncclCommFinalize", &fn_.CommFinalize, &missing);
  Resolve(handle, "ncclCommDestroy", &fn_.CommDestroy, &missing);
  Resolve(handle, "ncclCommAbort", &fn_.CommAbort, &missing);
  Resolve(handle, "ncclCommGetAsyncError", &fn_.CommGetAsyncError, &missing);
  Resolve(handle, "ncclAllReduce", &fn_.AllReduce, &missing);
  Resolve(handle, "ncclReduceScatter", &fn_.ReduceScatter, &missing);
  Resolve(handle, "ncclAllGather", &fn_.AllGather, &missing);
  Resolve(handle, "ncclBroadcast", &fn_.Broadcast, &missing);
  Resolve(handle, "ncclReduce", &fn_.Reduce, &missing);
  Resolve(handle, "ncclSend", &fn_.Send, &missing);
  Resolve(handle, "ncclRecv", &fn_.Recv, &missing);
  Resolve(handle, "ncclGroupStart", &fn_.GroupStart, &missing);
  Resolve(handle, "ncclGroupEnd", &fn_.GroupEnd, &missing);
  if (!missing.empty()) {
    return reject("NCCL " + NcclVersionString(code) + " lacks symbol" +
                  (missing.size() > 1 ? "s " : " ") + Join(missing, ", ") +
                  " (an incomplete or modified libnccl?)");
  }

  // The file the loader actually chose, which for a bare name depends on its search path.
  Dl_info info{};
  bool found = dladdr(reinterpret_cast<void*>(fn_.GetVersion), &info) != 0 &&
               info.dli_fname != nullptr;
  path_ = found ? info.dli_fname : candidate;
  version_ = code;
  return Status::Ok();
}

Result<std::shared_ptr<const NcclLibrary>> NcclLibrary::LoadFirst(
    const std::vector<std::string>& candidates) {
  std::vector<std::string> tried;
  for (const auto& candidate : candidates) {
    std::shared_ptr<NcclLibrary> lib(new NcclLibrary());
    Status opened = lib->Open(candidate);
    if (opened.ok()) return std::shared_ptr<const NcclLibrary>(std::move(lib));
    tried.push_back("  " + candidate + ": " + opened.message());
  }
  return UnimplementedError(
      "cannot load NCCL; tried:\n" + Join(tried, "\n") + "\nInstall NCCL " +
      NcclVersionString(kMinNcclVersion) +
      " or newer (the libnccl2 package, or pip install nvidia-nccl-cu13), set "
      "COHORT_NCCL_LIBRARY to the path of libnccl.so.2, or set COHORT_CUDA_BACKEND=staged to run "
      "CUDA collectives through host memory without NCCL (slower)");
}

Result<std::shared_ptr<const NcclLibrary>> NcclLibrary::Load(const std::string& configured_path) {
  // Process-wide: one NcclLibrary per list of candidates that loaded. Keyed by what was asked
  // for, so a different COHORT_NCCL_LIBRARY in a later Config is honoured, not answered from the
  // cache. Failures are not cached: installing NCCL and retrying works. Never destroyed, so no
  // static destructor runs while another static's communicator still uses the library.
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::shared_ptr<const NcclLibrary>>();
  // NCCL_HOME is NCCL's own convention (where its tarball was unpacked), read only here, at load.
  const char* home = std::getenv("NCCL_HOME");
  auto candidates = CandidatePaths(configured_path, home != nullptr ? home : "");

  std::string key = Join(candidates, "\n");
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  auto loaded = LoadFirst(candidates);
  if (loaded.ok()) cache->emplace(key, loaded.value());
  return loaded;
}

}  // namespace cohort
