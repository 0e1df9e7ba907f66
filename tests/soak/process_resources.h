// What a long-running rank holds, read from /proc and /dev/shm, so that a soak run can show that
// nothing grows: resident memory, open file descriptors, threads, mapped shared-memory segments
// and segment names left in /dev/shm. Linux only. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>

namespace cohort::soak {

struct ProcessResources {
  int64_t rss_kib = 0;       // VmRSS of /proc/self/status
  int64_t peak_rss_kib = 0;  // VmHWM
  int64_t open_fds = 0;      // entries of /proc/self/fd (not counting the one used to list it)
  int64_t threads = 0;       // Threads of /proc/self/status
  int64_t shm_mappings = 0;  // lines of /proc/self/maps naming /dev/shm (unlinked ones too)
  int64_t shm_all = 0;       // /dev/shm/cohort-* entries, of any job on this host
  int64_t shm_job = 0;       // /dev/shm/cohort-<job_id>-* entries, of this job
};

// Reads them now. `job_id` names this job's segments (Config::job_id; "" counts none).
ProcessResources ReadProcessResources(const std::string& job_id);

}  // namespace cohort::soak
