#include "runtime/ps/checkpoint_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace cohort::ps {
namespace {

constexpr uint64_t kMul = 0x9fb21c651e98df25ull;

inline uint64_t Mix(uint64_t h, uint64_t word) {
  h ^= word * kMul;
  h = (h << 29) | (h >> 35);
  return h * 0xc2b2ae3d27d4eb4full + 0x165667b19e3779f9ull;
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void Hash64::Update(const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  length_ += bytes;
  while (tail_bytes_ > 0 && tail_bytes_ < 8 && bytes > 0) {
    tail_[tail_bytes_++] = *p++;
    --bytes;
  }
  if (tail_bytes_ == 8) {
    uint64_t word;
    std::memcpy(&word, tail_, 8);
    state_ = Mix(state_, word);
    tail_bytes_ = 0;
  }
  for (; bytes >= 8; bytes -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    state_ = Mix(state_, word);
  }
  for (; bytes > 0; --bytes) tail_[tail_bytes_++] = *p++;
}

uint64_t Hash64::value() const {
  uint64_t word = 0;
  std::memcpy(&word, tail_, tail_bytes_);
  uint64_t h = Mix(Mix(state_, word), length_);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

Result<AtomicFileWriter> AtomicFileWriter::Open(const std::string& final_path) {
  static std::atomic<int> counter{0};
  AtomicFileWriter writer;
  writer.final_path_ = final_path;
  writer.temp_path_ = Parent(final_path) + "/.tmp-" + std::to_string(::getpid()) + "-" +
                      std::to_string(counter.fetch_add(1)) + "-" +
                      final_path.substr(final_path.find_last_of('/') + 1);
  writer.fd_ = ::open(writer.temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (writer.fd_ < 0) return ErrnoStatus("cannot create " + writer.temp_path_, errno);
  return writer;
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : final_path_(std::move(other.final_path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(other.fd_),
      written_(other.written_),
      hash_(other.hash_) {
  other.fd_ = -1;
  other.temp_path_.clear();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status AtomicFileWriter::Write(const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  hash_.Update(p, bytes);
  while (bytes > 0) {
    ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("writing " + temp_path_, errno);
    p += n;
    bytes -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (::fsync(fd_) != 0) return ErrnoStatus("fsync of " + temp_path_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ErrnoStatus("closing " + temp_path_, errno);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    return ErrnoStatus("renaming " + temp_path_ + " to " + final_path_, errno);
  }
  temp_path_.clear();
  return SyncDirectory(Parent(final_path_));
}

Status ReadFileRange(const std::string& path, uint64_t offset, void* out, size_t bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open " + path, errno);
  auto* p = static_cast<uint8_t*>(out);
  Status status;
  while (bytes > 0) {
    ssize_t n = ::pread(fd, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus("reading " + path, errno);
      break;
    }
    if (n == 0) {
      status = InvalidArgumentError(path + " ends at byte " + std::to_string(offset) + ", " +
                                    std::to_string(bytes) + " bytes short of what the manifest says");
      break;
    }
    p += n;
    offset += static_cast<uint64_t>(n);
    bytes -= static_cast<size_t>(n);
  }
  ::close(fd);
  return status;
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  COHORT_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  if (size > max_bytes) {
    return InvalidArgumentError(path + " has " + std::to_string(size) + " bytes; more than the " +
                                std::to_string(max_bytes) + " expected");
  }
  std::string text(size, '\0');
  COHORT_RETURN_IF_ERROR(ReadFileRange(path, 0, text.data(), text.size()));
  return text;
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot open " + path, errno);
  return static_cast<uint64_t>(st.st_size);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status MakeDirectories(const std::string& dir) {
  if (dir.empty() || IsDirectory(dir)) return Status::Ok();
  const std::string parent = Parent(dir);
  if (parent != dir) COHORT_RETURN_IF_ERROR(MakeDirectories(parent));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("cannot create directory " + dir, errno);
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory " + dir, errno);
  Status status = ::fsync(fd) == 0 ? Status::Ok() : ErrnoStatus("fsync of directory " + dir, errno);
  ::close(fd);
  return status;
}

}  // namespace cohort::ps
