// ShmSegment: shm_open/fallocate/mmap wrappers (shm_segment.h).
#include "runtime/transport/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/net/socket.h"

namespace cohort {

Result<std::shared_ptr<ShmSegment>> ShmSegment::Create(const std::string& name, size_t bytes) {
  UniqueFd fd(::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("shm_open(" + name + ", O_CREAT|O_EXCL)", errno);
  auto fail = [&](const std::string& what, int err) {
    ::shm_unlink(name.c_str());
    return ErrnoStatus(what + " on shared memory segment " + name + " (" +
                           std::to_string(bytes) + " bytes)",
                       err);
  };
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) return fail("ftruncate", errno);
  // Reserve the pages now: on tmpfs a later page fault past the free space is a SIGBUS.
  int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes));
  if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
    Status status = fail("fallocate", rc);
    if (rc == ENOSPC) {
      return UnavailableError(status.message() +
                              "; /dev/shm is full: raise its size (docker run --shm-size=...) "
                              "or set COHORT_TRANSPORT=tcp");
    }
    return status;
  }
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (data == MAP_FAILED) return fail("mmap", errno);
  return std::shared_ptr<ShmSegment>(new ShmSegment(name, static_cast<char*>(data), bytes, true));
}

Result<std::shared_ptr<ShmSegment>> ShmSegment::Open(const std::string& name) {
  UniqueFd fd(::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("shm_open(" + name + ")", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat(" + name + ")", errno);
  size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0) return InternalError("shared memory segment " + name + " is empty");
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (data == MAP_FAILED) return ErrnoStatus("mmap(" + name + ")", errno);
  return std::shared_ptr<ShmSegment>(new ShmSegment(name, static_cast<char*>(data), bytes, false));
}

ShmSegment::~ShmSegment() {
  if (owner_) (void)Unlink();
  ::munmap(data_, size_);
}

Status ShmSegment::Unlink() {
  if (unlinked_) return Status::Ok();
  unlinked_ = true;
  if (::shm_unlink(name_.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("shm_unlink(" + name_ + ")", errno);
  }
  return Status::Ok();
}

std::string SanitizeShmNamePart(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::string ShmSegmentName(const std::string& job_id, const std::string& comm_name, int rank) {
  return "/cohort-" + SanitizeShmNamePart(job_id) + "-" + SanitizeShmNamePart(comm_name) + "-" +
         std::to_string(rank);
}

Result<uint64_t> ShmFreeBytes() {
  struct statvfs st {};
  if (::statvfs("/dev/shm", &st) != 0) return ErrnoStatus("statvfs(/dev/shm)", errno);
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

}  // namespace cohort
