#include "runtime/base/companion.h"

#include <dlfcn.h>

#include <vector>

namespace cohort {
namespace {

std::string LibraryFolder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&LoadCompanionSymbol), &info) == 0 ||
      info.dli_fname == nullptr) {
    return "";
  }
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

std::string LoaderError() {
  const char* why = dlerror();
  return why != nullptr ? why : "not found";
}

}  // namespace

Result<void*> LoadCompanionSymbol(const std::string& library, const char* symbol) {
  std::string tried;
  const std::string folder = LibraryFolder();
  std::vector<std::string> candidates;
  if (!folder.empty()) candidates.push_back(folder + library);
  candidates.push_back(library);  // the loader's search path (LD_LIBRARY_PATH, ld.so.cache)
  for (const std::string& path : candidates) {
    // RTLD_GLOBAL: Open MPI's plugins resolve libmpi's symbols from the global scope.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (handle == nullptr) {
      tried += (tried.empty() ? "" : "; ") + LoaderError();
      continue;
    }
    void* address = dlsym(handle, symbol);
    if (address != nullptr) return address;
    tried += (tried.empty() ? "" : "; ") + path + ": no symbol " + symbol + " (" + LoaderError() +
             "; a library from another cohort version?)";
  }
  return UnavailableError(library + " could not be loaded: " + tried);
}

}  // namespace cohort
