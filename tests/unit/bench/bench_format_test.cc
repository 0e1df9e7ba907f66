// The text layout is nccl-tests' to the character, so that their parsers read ours.
#include "benchmarks/cohort_bench/bench_format.h"

#include <gtest/gtest.h>

namespace cohort::bench {
namespace {

TEST(FormatColumnHeader, MatchesNcclTests) {
  const std::string header = FormatColumnHeader();
  EXPECT_NE(header.find("#       size         count      type   redop    root     time   algbw   "
                        "busbw #wrong     time   algbw   busbw #wrong\n"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("#        (B)    (elements)                               (us)  (GB/s)  "
                        "(GB/s)            (us)  (GB/s)  (GB/s)       \n"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("out-of-place                       in-place"), std::string::npos);
}

TEST(FormatTime, PrecisionShrinksWithSize) {
  EXPECT_EQ(FormatTime(12.345), "  12.35");
  EXPECT_EQ(FormatTime(123.45), "  123.5");
  EXPECT_EQ(FormatTime(12345.6), "  12346");
}

TEST(FormatRow, ColumnsLineUpWithHeader) {
  BenchRow row{CollectiveKind::kAllreduce, 1048576, 262144, "float", "sum", -1,
               {85.5, 12.26, 18.39, 0, false}, {84.25, 12.45, 18.67, 0, false}, "ring"};
  EXPECT_EQ(FormatRow(row),
            "     1048576        262144     float     sum      -1    85.50   12.26   18.39      0"
            "    84.25   12.45   18.67      0");
  row.out_of_place.wrong.reset();
  row.in_place.wrong.reset();
  EXPECT_NE(FormatRow(row).find("18.39    N/A"), std::string::npos) << FormatRow(row);
  // A case the backend cannot run: every column N/A.
  row.in_place.skipped = true;
  EXPECT_NE(FormatRow(row).find("      N/A     N/A     N/A    N/A"), std::string::npos)
      << FormatRow(row);
}

TEST(FormatFooter, ReportsWrongAndAverage) {
  const std::string ok = FormatFooter(0, 12.5, CollectiveKind::kAllreduce);
  EXPECT_NE(ok.find("# Out of bounds values : 0 OK\n"), std::string::npos);
  EXPECT_NE(ok.find("# Avg bus bandwidth    : 12.5 \n"), std::string::npos);
  EXPECT_EQ(ok.substr(ok.rfind("# ")), "# Collective test concluded: allreduce\n");
  EXPECT_NE(FormatFooter(3, 1, CollectiveKind::kReduce).find(": 3 FAILED"), std::string::npos);
}

TEST(FormatHeader, ExplainsBusBandwidth) {
  HeaderInfo info;
  info.command_line = "cohort-bench allreduce -b 8";
  info.nranks = 4;
  info.collective = CollectiveKind::kAllreduce;
  info.iters = 20;
  info.warmup_iters = 5;
  info.rank_lines = {"Pid 1 on a peers: shm 3", "Pid 2 on a peers: shm 3"};
  const std::string h = FormatHeader(info);
  EXPECT_NE(h.find("busbw = algbw * 2(n-1)/n"), std::string::npos) << h;
  EXPECT_NE(h.find("1.5 with n = 4"), std::string::npos) << h;
  EXPECT_NE(h.find("maximum over ranks"), std::string::npos) << h;
  EXPECT_NE(h.find("#  Rank  1 Pid 2 on a peers: shm 3\n"), std::string::npos) << h;
  info.collective = CollectiveKind::kBroadcast;
  EXPECT_NE(FormatHeader(info).find("busbw = algbw * 1 "), std::string::npos);
}

TEST(RowsToJson, HasEveryField) {
  BenchRow row{CollectiveKind::kBroadcast, 64, 16, "float", "none", 1,
               {1.5, 0.04, 0.04, 0, false}, {1.25, 0.05, 0.05, std::nullopt, false}, "shm_express"};
  const std::string json = RowsToJson({row}, 4, 0.045, "mpi");
  for (const char* key : {"\"collective\": \"broadcast\"", "\"size\": 64", "\"count\": 16",
                          "\"dtype\": \"float\"", "\"op\": \"none\"", "\"root\": 1",
                          "\"ranks\": 4", "\"oop\": {\"time_us\": 1.5", "\"wrong\": null",
                          "\"avg_busbw\": 0.045", "\"system\": \"mpi\"",
                          "\"algorithm\": \"shm_express\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
  }
}

}  // namespace
}  // namespace cohort::bench
