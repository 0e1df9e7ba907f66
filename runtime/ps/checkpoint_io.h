// File primitives of parameter-store checkpoints: files written atomically (a temporary file in the
// same directory, fsync, rename, fsync of the directory), positional reads with clear errors, and
// a fast 64-bit content hash that catches truncated, mixed or corrupted files.
//
// Errors name the path and the system's reason (errno text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/base/status.h"

namespace cohort::ps {

// Incremental 64-bit hash (not cryptographic): 8 bytes per multiply, so it keeps up with disks.
class Hash64 {
 public:
  void Update(const void* data, size_t bytes);
  uint64_t value() const;

 private:
  uint64_t state_ = 0x6a09e667f3bcc909ull;
  uint64_t length_ = 0;
  uint8_t tail_[8] = {};
  size_t tail_bytes_ = 0;
};

// Writes `final_path` atomically: bytes go to a temporary file next to it; Commit() fsyncs it,
// renames it over `final_path` and fsyncs the directory. Destroying an uncommitted writer removes
// the temporary file, so a failed or interrupted save never leaves a half-written file in place.
class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> Open(const std::string& final_path);
  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  ~AtomicFileWriter();

  Status Write(const void* data, size_t bytes);  // also feeds the hash
  Status Commit();
  uint64_t bytes_written() const { return written_; }
  uint64_t hash() const { return hash_.value(); }

 private:
  AtomicFileWriter() = default;
  std::string final_path_, temp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  Hash64 hash_;
};

// Reads exactly `bytes` at `offset` of `path` into `out`.
Status ReadFileRange(const std::string& path, uint64_t offset, void* out, size_t bytes);
// Whole small file (manifests).
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);
Result<uint64_t> FileSize(const std::string& path);
bool IsDirectory(const std::string& path);
// Creates `dir` (and missing parents) if needed.
Status MakeDirectories(const std::string& dir);
// fsync of a directory, so that renames inside it survive a crash.
Status SyncDirectory(const std::string& dir);

}  // namespace cohort::ps
