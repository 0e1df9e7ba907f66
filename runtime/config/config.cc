// Value parsers shared by the settings table: durations ("600", "600s", "1500ms", "2m") and byte
// sizes ("4194304", "4M", "4MiB", "64k"). Both accept only non-negative integers with an optional
// unit and refuse anything that would overflow.
#include <cctype>
#include <cstdint>
#include <limits>
#include <string>

#include "runtime/config/config.h"

namespace cohort {
namespace {

// Splits "  1500ms " into digits and a lower-cased unit; false when there are no leading digits,
// the number overflows, or the unit contains spaces or digits.
bool SplitNumberUnit(const std::string& text, uint64_t* number, std::string* unit) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  size_t i = begin;
  uint64_t value = 0;
  while (i < end && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
    ++i;
  }
  if (i == begin) return false;
  unit->clear();
  for (; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (!std::isalpha(c)) return false;
    unit->push_back(static_cast<char>(std::tolower(c)));
  }
  *number = value;
  return true;
}

// value * factor, or false on overflow of `limit`.
bool Scale(uint64_t value, uint64_t factor, uint64_t limit, uint64_t* out) {
  if (factor != 0 && value > limit / factor) return false;
  *out = value * factor;
  return true;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  const std::string accepted =
      "a whole number of seconds, or a number with a unit: ms, s, m, h (e.g. 600, 600s, 1500ms, 2m)";
  uint64_t number = 0;
  std::string unit;
  if (!SplitNumberUnit(text, &number, &unit)) {
    return InvalidArgumentError("bad duration '" + text + "'; expected " + accepted);
  }
  uint64_t factor_ms = 0;
  if (unit.empty() || unit == "s" || unit == "sec") factor_ms = 1000;
  else if (unit == "ms") factor_ms = 1;
  else if (unit == "m" || unit == "min") factor_ms = 60'000;
  else if (unit == "h") factor_ms = 3'600'000;
  else return InvalidArgumentError("bad duration unit in '" + text + "'; expected " + accepted);
  uint64_t ms = 0;
  // Bounded well below the chrono range so that Deadline arithmetic never overflows.
  constexpr uint64_t kMaxMs = uint64_t{1} << 50;
  if (!Scale(number, factor_ms, kMaxMs, &ms)) {
    return InvalidArgumentError("duration '" + text + "' is too large");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Result<size_t> ParseBytes(const std::string& text) {
  const std::string accepted =
      "a number of bytes, optionally with a binary unit: k/KiB, M/MiB, G/GiB (e.g. 4194304, 4M, "
      "64k)";
  uint64_t number = 0;
  std::string unit;
  if (!SplitNumberUnit(text, &number, &unit)) {
    return InvalidArgumentError("bad size '" + text + "'; expected " + accepted);
  }
  // Units are binary (as in NCCL and nccl-tests): "4M" is 4 * 2^20 bytes, and so is "4MB".
  uint64_t factor = 0;
  if (unit.empty() || unit == "b") factor = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") factor = uint64_t{1} << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") factor = uint64_t{1} << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") factor = uint64_t{1} << 30;
  else return InvalidArgumentError("bad size unit in '" + text + "'; expected " + accepted);
  uint64_t bytes = 0;
  if (!Scale(number, factor, std::numeric_limits<size_t>::max(), &bytes)) {
    return InvalidArgumentError("size '" + text + "' is too large");
  }
  return static_cast<size_t>(bytes);
}

}  // namespace cohort
