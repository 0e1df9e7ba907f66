#include "runtime/base/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

namespace cohort {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};
std::atomic<int> g_rank{-1};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "ERROR";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kDetail: return "DETAIL";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
void SetLogRank(int rank) { g_rank.store(rank); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void LogLine(LogLevel level, const std::string& line) {
  int rank = g_rank.load();
  std::string who = rank >= 0 ? std::to_string(rank) : "pid " + std::to_string(getpid());
  std::string text = "cohort[" + who + "] " + LevelName(level) + " " + line + "\n";
  // One write per line so lines from threads and ranks do not interleave mid-line.
  ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

}  // namespace cohort
