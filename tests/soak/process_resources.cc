// Reading a process's resources from /proc and /dev/shm (see process_resources.h).
#include "tests/soak/process_resources.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string_view>

namespace cohort::soak {
namespace {

// Calls fn(name) for every entry of `dir` but "." and "..". Returns false if it cannot be read.
template <class Fn> bool ForEachEntry(const char* dir, Fn&& fn) {
  DIR* d = ::opendir(dir);
  if (d == nullptr) return false;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") fn(name);
  }
  ::closedir(d);
  return true;
}

// The number after "Key:" in /proc/self/status ("VmRSS:  12345 kB" gives 12345).
int64_t StatusField(const std::string& status, std::string_view key) {
  const size_t at = status.find(std::string(key) + ":");
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + key.size() + 1, nullptr, 10);
}

}  // namespace

ProcessResources ReadProcessResources(const std::string& job_id) {
  ProcessResources r;
  {
    std::ifstream in("/proc/self/status");
    const std::string status((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
    r.rss_kib = StatusField(status, "VmRSS");
    r.peak_rss_kib = StatusField(status, "VmHWM");
    r.threads = StatusField(status, "Threads");
  }
  // opendir holds one descriptor of its own while listing.
  if (ForEachEntry("/proc/self/fd", [&](std::string_view) { ++r.open_fds; })) --r.open_fds;
  {
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
      if (line.find("/dev/shm/") != std::string::npos) ++r.shm_mappings;
    }
  }
  const std::string job_prefix = job_id.empty() ? std::string() : "cohort-" + job_id + "-";
  ForEachEntry("/dev/shm", [&](std::string_view name) {
    if (name.starts_with("cohort-")) ++r.shm_all;
    if (!job_prefix.empty() && name.starts_with(job_prefix)) ++r.shm_job;
  });
  return r;
}

}  // namespace cohort::soak
