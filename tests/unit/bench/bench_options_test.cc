// cohort-bench's command line: nccl-tests' options, forms and defaults, and clear errors.
#include "benchmarks/cohort_bench/bench_options.h"

#include <gtest/gtest.h>

namespace cohort::bench {
namespace {

TEST(ParseSize, AcceptsSuffixesAsPowersOf1024) {
  EXPECT_EQ(ParseSize("8").value(), 8u);
  EXPECT_EQ(ParseSize("64K").value(), 64u << 10);
  EXPECT_EQ(ParseSize("64k").value(), 64u << 10);
  EXPECT_EQ(ParseSize("128M").value(), 128u << 20);
  EXPECT_EQ(ParseSize("1G").value(), size_t{1} << 30);
  EXPECT_EQ(ParseSize("2GB").value(), size_t{2} << 30);
  EXPECT_EQ(ParseSize("0").value(), 0u);
}

TEST(ParseSize, RejectsGarbage) {
  for (const char* bad : {"", "M", "12X", "-4", "1.5M", "99999999999999999999G"}) {
    EXPECT_FALSE(ParseSize(bad).ok()) << bad;
  }
}

TEST(ParseBenchOptions, DefaultsAreNcclTests) {
  BenchOptions o = ParseBenchOptions({"allreduce"}).value();
  EXPECT_EQ(o.collective, CollectiveKind::kAllreduce);
  EXPECT_EQ(o.min_bytes, 32u << 20);
  EXPECT_EQ(o.max_bytes, 32u << 20);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmup_iters, 5);
  EXPECT_TRUE(o.check);
  ASSERT_EQ(o.dtypes.size(), 1u);
  EXPECT_EQ(o.dtypes[0], DataType::kF32);
  EXPECT_EQ(o.ops[0], ReduceOp::kSum);
  EXPECT_EQ(o.root, 0);
}

TEST(ParseBenchOptions, EveryOptionInEveryForm) {
  BenchOptions o = ParseBenchOptions({"-b", "8", "-e64M", "--stepfactor=4", "--stepbytes", "2K",
                                      "-n", "7", "-w", "0", "-c", "0", "-d", "bf16", "-o", "max",
                                      "-r", "2", "--json", "out.json", "reduce"})
                       .value();
  EXPECT_EQ(o.collective, CollectiveKind::kReduce);
  EXPECT_EQ(o.min_bytes, 8u);
  EXPECT_EQ(o.max_bytes, 64u << 20);
  EXPECT_EQ(o.step_factor, 4u);
  EXPECT_EQ(o.step_bytes, 2u << 10);
  EXPECT_EQ(o.iters, 7);
  EXPECT_EQ(o.warmup_iters, 0);
  EXPECT_FALSE(o.check);
  EXPECT_EQ(o.dtypes[0], DataType::kBF16);
  EXPECT_EQ(o.ops[0], ReduceOp::kMax);
  EXPECT_EQ(o.root, 2);
  EXPECT_EQ(o.json_path, "out.json");
}

TEST(ParseBenchOptions, NcclTestsNamesAndAll) {
  BenchOptions o = ParseBenchOptions({"all_gather", "-d", "all", "-o", "all"}).value();
  EXPECT_EQ(o.collective, CollectiveKind::kAllgather);
  EXPECT_EQ(o.dtypes.size(), std::size(kAllDataTypes));
  EXPECT_EQ(o.ops.size(), 1u);  // data movement has no op
  o = ParseBenchOptions({"allreduce", "-d", "half", "-o", "all"}).value();
  EXPECT_EQ(o.dtypes[0], DataType::kF16);
  EXPECT_EQ(o.ops.size(), std::size(kAllReduceOps));
  EXPECT_TRUE(o.all_ops);
}

TEST(ParseBenchOptions, HelpWins) {
  EXPECT_TRUE(ParseBenchOptions({"-h"}).value().help);
  EXPECT_TRUE(ParseBenchOptions({"allreduce", "--help", "-b", "nonsense"}).value().help);
  EXPECT_NE(Usage("cohort-bench").find("--json"), std::string::npos);
}

TEST(ParseBenchOptions, ErrorsNameTheProblem) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const Case cases[] = {
      {{}, "no collective"},
      {{"allreduce", "-q"}, "unknown option '-q'"},
      {{"allreduce", "-b"}, "needs a value"},
      {{"allreduce", "-b", "lots"}, "bad size 'lots'"},
      {{"allreduce", "-n", "0"}, "-n"},
      {{"allreduce", "-b", "1M", "-e", "1K"}, "larger than maxbytes"},
      {{"allshuffle"}, "unknown collective 'allshuffle'"},
      {{"allreduce", "broadcast"}, "more than one collective"},
      {{"allreduce", "-d", "f128"}, "unknown dtype 'f128'"},
      {{"allreduce", "-o", "xor"}, "unknown reduction op 'xor'"},
      {{"allreduce", "-d", "i32", "-o", "avg"}, "avg"},
      {{"allreduce", "--json="}, "--json needs a file name"},
  };
  for (const Case& c : cases) {
    Result<BenchOptions> r = ParseBenchOptions(c.args);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
  }
}

TEST(ParseBenchOptions, Baselines) {
  EXPECT_EQ(ParseBenchOptions({"allreduce"}).value().baseline, "");
  EXPECT_EQ(ParseBenchOptions({"allreduce", "--baseline", "mpi"}).value().baseline, "mpi");
  EXPECT_EQ(ParseBenchOptions({"allreduce", "--baseline=gloo"}).value().baseline, "gloo-ring");
  EXPECT_EQ(ParseBenchOptions({"allreduce", "--baseline", "gloo-hd"}).value().baseline, "gloo-hd");
  Result<BenchOptions> unknown = ParseBenchOptions({"allreduce", "--baseline", "nccl"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("expected mpi, gloo-ring (or gloo) or gloo-hd"),
            std::string::npos) << unknown.status().message();
  Result<BenchOptions> gpu = ParseBenchOptions({"allreduce", "--baseline", "mpi", "-g", "1"});
  ASSERT_FALSE(gpu.ok());
  EXPECT_NE(gpu.status().message().find("CPU buffers only"), std::string::npos);
  EXPECT_FALSE(ParseBenchOptions({"allreduce", "-B", "mpi"}).ok());  // no short form
}

TEST(NcclTypeName, MatchesNcclTests) {
  EXPECT_EQ(NcclTypeName(DataType::kF32), "float");
  EXPECT_EQ(NcclTypeName(DataType::kBF16), "bfloat16");
  EXPECT_EQ(NcclTypeName(DataType::kU8), "uint8");
}

}  // namespace
}  // namespace cohort::bench
