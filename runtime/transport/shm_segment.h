// ShmSegment: an RAII POSIX shared-memory segment (shm_open + mmap). The creator reserves the
// memory up front (fallocate, so a full /dev/shm is an ENOSPC error now rather than a SIGBUS
// later) and prefaults it; whoever holds a mapping keeps the memory alive after the name is
// unlinked. A creator that is destroyed before calling Unlink() unlinks the name itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/base/status.h"

namespace cohort {

class ShmSegment {
 public:
  // Creates `name` ("/cohort-...") exclusively, sized `bytes`, mapped read-write and prefaulted.
  static Result<std::shared_ptr<ShmSegment>> Create(const std::string& name, size_t bytes);
  // Maps an existing segment whole.
  static Result<std::shared_ptr<ShmSegment>> Open(const std::string& name);

  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;
  ~ShmSegment();

  // Removes the name from /dev/shm; mappings stay valid. Idempotent.
  Status Unlink();

  char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }

 private:
  ShmSegment(std::string name, char* data, size_t size, bool owner)
      : name_(std::move(name)), data_(data), size_(size), owner_(owner) {}

  std::string name_;
  char* data_;
  size_t size_;
  bool owner_;
  bool unlinked_ = false;
};

// Segment layouts (rings, arena) align their parts to pages.
inline constexpr size_t kShmPageBytes = 4096;
inline size_t RoundUpToShmPage(size_t bytes) {
  return (bytes + kShmPageBytes - 1) / kShmPageBytes * kShmPageBytes;
}

// "/cohort-<job_id>-<comm_name>-<rank>", each part reduced to [A-Za-z0-9._-].
std::string ShmSegmentName(const std::string& job_id, const std::string& comm_name, int rank);
// Replaces every character outside [A-Za-z0-9._-] with '_'.
std::string SanitizeShmNamePart(const std::string& text);

// Free bytes in /dev/shm (statvfs), for the check before set-up.
Result<uint64_t> ShmFreeBytes();

}  // namespace cohort
