// Tests of DetectIdentity: every launcher scheme, precedence, conflicts between schemes, partial
// schemes, bad numbers, the store address and the single-process fallback.
#include <gtest/gtest.h>

#include "runtime/config/identity.h"

namespace cohort {
namespace {

Identity MustDetect(const EnvMap& env) {
  Result<Identity> id = DetectIdentity(env);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? id.value() : Identity{};
}

std::string ErrorOf(const EnvMap& env, bool allow_single = true) {
  Result<Identity> id = DetectIdentity(env, allow_single);
  EXPECT_FALSE(id.ok());
  if (id.ok()) return "";
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  return id.status().message();
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Identity, Cohort) {
  Identity id = MustDetect({{"COHORT_RANK", "2"}, {"COHORT_WORLD_SIZE", "4"},
                            {"COHORT_LOCAL_RANK", "0"}, {"COHORT_LOCAL_SIZE", "2"},
                            {"COHORT_NODE_RANK", "1"}, {"COHORT_STORE_ADDR", "10.0.0.1:2950"}});
  EXPECT_EQ(id.scheme, "cohort");
  EXPECT_EQ(id.rank, 2);
  EXPECT_EQ(id.size, 4);
  EXPECT_EQ(id.local_rank, 0);
  EXPECT_EQ(id.local_size, 2);
  EXPECT_EQ(id.node_rank, 1);
  EXPECT_EQ(id.store_addr, "10.0.0.1:2950");
  EXPECT_FALSE(id.rank0_hosts_store);
}

TEST(Identity, OpenMpi) {
  Identity id = MustDetect({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                            {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                            {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}, {"PMIX_RANK", "3"}});
  EXPECT_EQ(id.scheme, "openmpi");
  EXPECT_EQ(id.rank, 3);
  EXPECT_EQ(id.size, 8);
  EXPECT_EQ(id.local_rank, 1);
  EXPECT_EQ(id.local_size, 2);
  EXPECT_FALSE(id.node_rank.has_value());
  EXPECT_TRUE(id.store_addr.empty());
}

TEST(Identity, PmixAndPmi) {
  Identity pmix = MustDetect({{"PMIX_RANK", "1"}, {"PMI_SIZE", "2"}});
  EXPECT_EQ(pmix.scheme, "pmix");
  EXPECT_EQ(pmix.rank, 1);
  EXPECT_EQ(pmix.size, 2);
  Identity pmi = MustDetect({{"PMI_RANK", "5"}, {"PMI_SIZE", "6"}});
  EXPECT_EQ(pmi.scheme, "pmi");
  EXPECT_EQ(pmi.rank, 5);
  EXPECT_EQ(pmi.size, 6);
}

TEST(Identity, Slurm) {
  Identity id = MustDetect({{"SLURM_PROCID", "7"}, {"SLURM_NTASKS", "16"},
                            {"SLURM_LOCALID", "3"}, {"SLURM_NODEID", "1"}});
  EXPECT_EQ(id.scheme, "slurm");
  EXPECT_EQ(id.rank, 7);
  EXPECT_EQ(id.size, 16);
  EXPECT_EQ(id.local_rank, 3);
  EXPECT_EQ(id.node_rank, 1);
}

TEST(Identity, TorchrunWithMasterAddress) {
  Identity id = MustDetect({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                            {"LOCAL_WORLD_SIZE", "2"}, {"GROUP_RANK", "0"},
                            {"MASTER_ADDR", "node1"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(id.scheme, "torchrun");
  EXPECT_EQ(id.rank, 1);
  EXPECT_EQ(id.size, 4);
  EXPECT_EQ(id.local_rank, 1);
  EXPECT_EQ(id.local_size, 2);
  EXPECT_EQ(id.node_rank, 0);
  EXPECT_EQ(id.store_addr, "node1:29500");
  EXPECT_TRUE(id.rank0_hosts_store);
}

// torchrun's agent serves its own store on MASTER_PORT: cohort's goes on the next port.
TEST(Identity, TorchrunAgentStoreKeepsMasterPort) {
  EnvMap env = {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "node1"},
                {"MASTER_PORT", "29500"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}};
  Identity id = MustDetect(env);
  EXPECT_EQ(id.store_addr, "node1:29501");
  EXPECT_TRUE(id.rank0_hosts_store);
  env["TORCHELASTIC_USE_AGENT_STORE"] = "False";  // the workers make their own store
  EXPECT_EQ(MustDetect(env).store_addr, "node1:29500");
  env["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  env["MASTER_PORT"] = "65535";
  std::string m = ErrorOf(env);
  EXPECT_TRUE(Has(m, "MASTER_PORT=65535")) << m;
  EXPECT_TRUE(Has(m, "lower MASTER_PORT")) << m;
}

TEST(Identity, CohortStoreAddrBeatsMasterAddr) {
  Identity id = MustDetect({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "a"},
                            {"MASTER_PORT", "1"}, {"COHORT_STORE_ADDR", "b:2"}});
  EXPECT_EQ(id.store_addr, "b:2");
  EXPECT_FALSE(id.rank0_hosts_store);
}

TEST(Identity, SingleProcessFallback) {
  Identity id = MustDetect({{"HOME", "/root"}});
  EXPECT_EQ(id.scheme, "single");
  EXPECT_EQ(id.rank, 0);
  EXPECT_EQ(id.size, 1);
  EXPECT_EQ(id.local_rank, 0);
  // Slurm allocations export the task count without a task rank: still a single process.
  EXPECT_EQ(MustDetect({{"SLURM_NTASKS", "4"}}).scheme, "single");
  std::string m = ErrorOf({}, /*allow_single=*/false);
  EXPECT_TRUE(Has(m, "COHORT_RANK")) << m;
  EXPECT_TRUE(Has(m, "SLURM_PROCID")) << m;
}

TEST(Identity, FirstCompleteSchemeWinsWhenOthersAgree) {
  Identity id = MustDetect({{"COHORT_RANK", "1"}, {"COHORT_WORLD_SIZE", "2"},
                            {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"},
                            {"RANK", "1"}, {"WORLD_SIZE", "2"}});
  EXPECT_EQ(id.scheme, "cohort");
  EXPECT_FALSE(id.local_rank.has_value());  // only the winner's optional fields are used
  EXPECT_EQ(MustDetect({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                        {"RANK", "0"}, {"WORLD_SIZE", "2"}}).scheme,
            "openmpi");
}

TEST(Identity, DisagreeingSchemesAreAnError) {
  std::string m = ErrorOf({{"COHORT_RANK", "3"}, {"COHORT_WORLD_SIZE", "4"},
                           {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
  EXPECT_TRUE(Has(m, "COHORT_RANK=3")) << m;
  EXPECT_TRUE(Has(m, "COHORT_WORLD_SIZE=4")) << m;
  EXPECT_TRUE(Has(m, "SLURM_PROCID=0")) << m;
  EXPECT_TRUE(Has(m, "SLURM_NTASKS=1")) << m;
  // Same rank, different size.
  m = ErrorOf({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"PMI_RANK", "0"}, {"PMI_SIZE", "3"}});
  EXPECT_TRUE(Has(m, "WORLD_SIZE=2")) << m;
  EXPECT_TRUE(Has(m, "PMI_SIZE=3")) << m;
  // A stray PMIX_RANK that disagrees.
  m = ErrorOf({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"PMIX_RANK", "0"}});
  EXPECT_TRUE(Has(m, "PMIX_RANK=0")) << m;
}

TEST(Identity, PartialSchemesNameTheMissingVariable) {
  std::string m = ErrorOf({{"COHORT_RANK", "1"}});
  EXPECT_TRUE(Has(m, "COHORT_WORLD_SIZE is missing")) << m;
  m = ErrorOf({{"WORLD_SIZE", "4"}});
  EXPECT_TRUE(Has(m, "RANK is missing")) << m;
  m = ErrorOf({{"SLURM_PROCID", "1"}});
  EXPECT_TRUE(Has(m, "SLURM_NTASKS is missing")) << m;
  m = ErrorOf({{"OMPI_COMM_WORLD_RANK", "1"}});
  EXPECT_TRUE(Has(m, "OMPI_COMM_WORLD_SIZE is missing")) << m;
  m = ErrorOf({{"PMIX_RANK", "1"}});
  EXPECT_TRUE(Has(m, "PMI_SIZE")) << m;
  // A partial scheme is an error even when another scheme is complete.
  m = ErrorOf({{"COHORT_RANK", "1"}, {"RANK", "1"}, {"WORLD_SIZE", "2"}});
  EXPECT_TRUE(Has(m, "COHORT_WORLD_SIZE is missing")) << m;
  m = ErrorOf({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "h"}});
  EXPECT_TRUE(Has(m, "MASTER_PORT is missing")) << m;
}

TEST(Identity, BadNumbers) {
  std::string m = ErrorOf({{"COHORT_RANK", "one"}, {"COHORT_WORLD_SIZE", "4"}});
  EXPECT_TRUE(Has(m, "COHORT_RANK='one' is not a number")) << m;
  m = ErrorOf({{"COHORT_RANK", "4"}, {"COHORT_WORLD_SIZE", "4"}});
  EXPECT_TRUE(Has(m, "COHORT_RANK=4 is out of range")) << m;
  m = ErrorOf({{"COHORT_RANK", "0"}, {"COHORT_WORLD_SIZE", "0"}});
  EXPECT_TRUE(Has(m, "COHORT_WORLD_SIZE=0")) << m;
  m = ErrorOf({{"RANK", "-1"}, {"WORLD_SIZE", "2"}});
  EXPECT_TRUE(Has(m, "RANK=-1 is out of range")) << m;
  m = ErrorOf({{"RANK", "1x"}, {"WORLD_SIZE", "2"}});
  EXPECT_TRUE(Has(m, "not a number")) << m;
  m = ErrorOf({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "99999999999999999999"}});
  EXPECT_TRUE(Has(m, "SLURM_NTASKS")) << m;
  m = ErrorOf({{"COHORT_RANK", "0"}, {"COHORT_WORLD_SIZE", "4"}, {"COHORT_LOCAL_RANK", "2"},
               {"COHORT_LOCAL_SIZE", "2"}});
  EXPECT_TRUE(Has(m, "COHORT_LOCAL_RANK=2")) << m;
  m = ErrorOf({{"COHORT_RANK", "0"}, {"COHORT_WORLD_SIZE", "1"}, {"COHORT_STORE_ADDR", "nohost"}});
  EXPECT_TRUE(Has(m, "COHORT_STORE_ADDR")) << m;
  m = ErrorOf({{"COHORT_RANK", "0"}, {"COHORT_WORLD_SIZE", "1"}, {"COHORT_STORE_ADDR", "h:70000"}});
  EXPECT_TRUE(Has(m, "out of range")) << m;
  m = ErrorOf({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "http"}});
  EXPECT_TRUE(Has(m, "MASTER_PORT='http'")) << m;
}

}  // namespace
}  // namespace cohort
