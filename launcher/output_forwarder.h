// OutputForwarder: turns one rank's byte stream (its stdout or stderr pipe) into whole lines on
// the launcher's stdout or stderr, each with a prefix ("[3] " or Open MPI's
// "[1,3]<stdout>:"). Each line goes out in one write(), so lines of different ranks never mix.
// Not thread-safe: the launcher's single poll loop owns every forwarder.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace cohort::launcher {

class OutputForwarder {
 public:
  OutputForwarder(std::string prefix, int out_fd) : prefix_(std::move(prefix)), out_fd_(out_fd) {}

  // The prefix for `rank` writing to stdout (is_stderr false) or stderr.
  static std::string Prefix(int rank, bool is_stderr, bool tag_output);

  // Writes every complete line in `data` (plus what was pending); keeps a partial last line.
  void Feed(const char* data, size_t bytes);
  // Writes a pending partial line, ending it with a newline (the rank exited mid-line).
  void Flush();

  // Sees every complete line (without its newline) first; a line it returns true for is
  // consumed rather than written. How the launcher picks a remote agent's control lines out of
  // its output.
  void SetLineFilter(std::function<bool(const std::string&)> filter) {
    filter_ = std::move(filter);
  }

 private:
  void WriteLine(const char* data, size_t bytes);

  std::string prefix_;
  int out_fd_;
  std::string pending_;
  std::function<bool(const std::string&)> filter_;
};

}  // namespace cohort::launcher
