// Output formatting of cohort-bench (see bench_format.h). Widths and precisions are nccl-tests'.
#include "benchmarks/cohort_bench/bench_format.h"

#include <cstdio>

#include "benchmarks/cohort_bench/bench_math.h"

namespace cohort::bench {
namespace {

template <typename... Args>
std::string Format(const char* format, Args... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

const char* FactorText(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllreduce: return "2(n-1)/n";
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllgather:
    case CollectiveKind::kAlltoall: return "(n-1)/n";
    default: return "1";
  }
}

std::string JsonNumber(double value) { return Format("%.9g", value); }

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += Format("\\u%04x", c);
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string MeasuredJson(const Measured& m) {
  if (m.skipped) return "null";
  return "{\"time_us\": " + JsonNumber(m.time_us) + ", \"algbw\": " + JsonNumber(m.algbw) +
         ", \"busbw\": " + JsonNumber(m.busbw) +
         ", \"wrong\": " + (m.wrong ? std::to_string(*m.wrong) : "null") + "}";
}

}  // namespace

std::string FormatHeader(const HeaderInfo& info) {
  std::string out = "# " + info.command_line + "\n";
  out += Format("# ranks %d hosts %d minBytes %zu maxBytes %zu step: ", info.nranks, info.nhosts,
                info.min_bytes, info.max_bytes);
  out += info.step_factor > 1 ? Format("%zu(factor)", info.step_factor)
                              : Format("%zu(bytes)", info.step_bytes);
  out += Format(" warmup iters: %d iters: %d validation: %d\n", info.warmup_iters, info.iters,
                info.check ? 1 : 0);
  out += "#\n# Using ranks\n";
  for (size_t r = 0; r < info.rank_lines.size(); ++r) {
    out += Format("#  Rank %2zu ", r) + info.rank_lines[r] + "\n";
  }
  out += "#\n";
  out += Format("# time: average per iteration over %d iterations after %d warm-up iterations, "
                "the maximum over ranks\n", info.iters, info.warmup_iters);
  out += Format("# algbw = size / time; busbw = algbw * %s (nccl-tests' factor for %s; %.4g with "
                "n = %d ranks); GB/s = 1e9 bytes/s\n",
                FactorText(info.collective), std::string(CollectiveName(info.collective)).c_str(),
                BusBwFactor(info.collective, info.nranks), info.nranks);
  return out;
}

std::string FormatColumnHeader() {
  std::string out = "#\n";
  out += Format("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place"
                "          \n", "", "", "", "", "");
  out += Format("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n", "size",
                "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time",
                "algbw", "busbw", "#wrong");
  out += Format("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s\n", "(B)",
                "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)",
                "(GB/s)", "");
  return out;
}

std::string FormatTime(double time_us) {
  if (time_us >= 10000.0) return Format("%7.0f", time_us);
  if (time_us >= 100.0) return Format("%7.1f", time_us);
  return Format("%7.2f", time_us);
}

std::string FormatRow(const BenchRow& row) {
  std::string out = Format("%12zu  %12zu  %8s  %6s  %6i", row.bytes, row.count, row.type.c_str(),
                           row.op.c_str(), row.root);
  for (const Measured* m : {&row.out_of_place, &row.in_place}) {
    const std::string time = FormatTime(m->time_us);
    if (m->skipped) {
      out += Format("  %7s  %6s  %6s  %5s", "N/A", "N/A", "N/A", "N/A");
    } else if (m->wrong) {
      out += Format("  %7s  %6.2f  %6.2f  %5g", time.c_str(), m->algbw, m->busbw,
                    static_cast<double>(*m->wrong));
    } else {
      out += Format("  %7s  %6.2f  %6.2f  %5s", time.c_str(), m->algbw, m->busbw, "N/A");
    }
  }
  return out;
}

std::string FormatFooter(long long wrong_total, double avg_busbw, CollectiveKind collective) {
  std::string out;
  if (wrong_total < 0) {
    out += "# Out of bounds values : N/A (not checked; -c 1 checks)\n";
  } else {
    out += Format("# Out of bounds values : %lld %s\n", wrong_total, wrong_total ? "FAILED" : "OK");
  }
  out += Format("# Avg bus bandwidth    : %g \n", avg_busbw);
  out += "#\n";
  out += "# Collective test concluded: " + std::string(CollectiveName(collective)) + "\n";
  return out;
}

std::string RowsToJson(const std::vector<BenchRow>& rows, int nranks, double avg_busbw,
                       const std::string& system) {
  std::string out = "{\n  \"program\": \"cohort-bench\",\n  \"system\": " + JsonString(system) +
                    ",\n  \"ranks\": " + std::to_string(nranks) + ",\n  \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    out += i ? ",\n    " : "\n    ";
    out += "{\"collective\": " + JsonString(CollectiveName(r.collective)) +
           ", \"size\": " + std::to_string(r.bytes) + ", \"count\": " + std::to_string(r.count) +
           ", \"dtype\": " + JsonString(r.type) + ", \"op\": " + JsonString(r.op) +
           ", \"root\": " + std::to_string(r.root) + ", \"ranks\": " + std::to_string(nranks) +
           ", \"oop\": " + MeasuredJson(r.out_of_place) + ", \"ip\": " + MeasuredJson(r.in_place) +
           ", \"algorithm\": " + JsonString(r.algorithm) + "}";
  }
  out += "\n  ],\n  \"avg_busbw\": " + JsonNumber(avg_busbw) + "\n}\n";
  return out;
}

}  // namespace cohort::bench
