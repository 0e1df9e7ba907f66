// One logger for the whole library. Levels come from COHORT_DEBUG (WARN by default, INFO, DETAIL)
// through Config; lines go to stderr prefixed with "cohort[rank] LEVEL".
#pragma once

#include <sstream>
#include <string>

namespace cohort {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDetail = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// The rank shown in each line; -1 (the default) shows the pid instead.
void SetLogRank(int rank);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, const std::string& line);

}  // namespace cohort

// COHORT_LOG(kInfo) << "rank " << r << " uses shm";  — the stream is built only when enabled.
#define COHORT_LOG(level)                                         \
  for (bool _cohort_on = ::cohort::LogEnabled(::cohort::LogLevel::level); _cohort_on; \
       _cohort_on = false)                                        \
  ::cohort::detail::LogMessage(::cohort::LogLevel::level).stream()

namespace cohort::detail {
class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage() { LogLine(level_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
}  // namespace cohort::detail
