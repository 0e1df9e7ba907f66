// Line-by-line output forwarding with rank prefixes (see output_forwarder.h).
#include "launcher/output_forwarder.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cohort::launcher {
namespace {

// Bounds memory when a rank writes a huge line without a newline: it is cut into pieces.
constexpr size_t kMaxPendingBytes = 64 * 1024;

void WriteAll(int fd, const char* data, size_t bytes) {
  while (bytes > 0) {
    ssize_t n = ::write(fd, data, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        usleep(1000);  // our own stdout may be non-blocking if shared with a non-blocking reader
        continue;
      }
      return;  // stdout closed (EPIPE): drop the output rather than stall the job
    }
    data += n;
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace

std::string OutputForwarder::Prefix(int rank, bool is_stderr, bool tag_output) {
  if (tag_output) {
    // Open MPI's --tag-output form; its job family number is always 1 for one launch.
    return "[1," + std::to_string(rank) + "]" + (is_stderr ? "<stderr>:" : "<stdout>:");
  }
  return "[" + std::to_string(rank) + "] ";
}

void OutputForwarder::WriteLine(const char* data, size_t bytes) {
  if (filter_ && filter_(std::string(data, bytes))) return;
  std::string line;
  line.reserve(prefix_.size() + bytes + 1);
  line.append(prefix_).append(data, bytes).push_back('\n');
  WriteAll(out_fd_, line.data(), line.size());
}

void OutputForwarder::Feed(const char* data, size_t bytes) {
  const char* end = data + bytes;
  while (data < end) {
    const char* newline = static_cast<const char*>(std::memchr(data, '\n', end - data));
    if (newline == nullptr) {
      pending_.append(data, end);
      while (pending_.size() >= kMaxPendingBytes) {
        WriteLine(pending_.data(), kMaxPendingBytes);
        pending_.erase(0, kMaxPendingBytes);
      }
      return;
    }
    if (pending_.empty()) {
      WriteLine(data, newline - data);
    } else {
      pending_.append(data, newline);
      WriteLine(pending_.data(), pending_.size());
      pending_.clear();
    }
    data = newline + 1;
  }
}

void OutputForwarder::Flush() {
  if (pending_.empty()) return;
  WriteLine(pending_.data(), pending_.size());
  pending_.clear();
}

}  // namespace cohort::launcher
