#include "runtime/transport/ucx_plugin.h"

#include <dirent.h>


#include "runtime/base/companion.h"

namespace cohort {
namespace {

using ConnectFn = void (*)(const UcxSetup*, UcxConnectOutput*);

// Loaded once per process; the error is kept so every caller sees the same explanation.
const Result<void*>& PluginSymbol() {
  static const Result<void*> symbol = LoadCompanionSymbol(kUcxPluginLibrary, kUcxConnectSymbol);
  return symbol;
}

}  // namespace

bool UcxTransportAvailable() { return PluginSymbol().ok(); }

bool HostHasRdmaDevice() {
  DIR* dir = ::opendir("/sys/class/infiniband");
  if (dir == nullptr) return false;
  bool any = false;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') any = true;
  }
  ::closedir(dir);
  return any;
}

Result<std::vector<std::unique_ptr<Link>>> ConnectUcxLinks(const UcxSetup& setup) {
  const Result<void*>& symbol = PluginSymbol();
  if (!symbol.ok()) {
    return UnavailableError("the ucx transport is not available in this process (" +
                            symbol.status().message() +
                            "); build cohort where UCX is installed (libucx-dev), or set "
                            "COHORT_TRANSPORT=auto or tcp");
  }
  UcxConnectOutput out;
  reinterpret_cast<ConnectFn>(symbol.value())(&setup, &out);
  if (!out.status.ok()) return out.status;
  return std::move(out.links);
}

}  // namespace cohort
