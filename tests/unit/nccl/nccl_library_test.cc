// NcclLibrary: finding, version-checking and resolving libnccl.so.2, without a GPU. Uses this
// machine's NCCL where present (skipping otherwise) and two fakes built next to the test.
#include "collectives/nccl/nccl_library.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace cohort {
namespace {

// Where the CUDA 13 image installs NCCL; the default search must find it too.
constexpr const char* kMachineNccl = "/usr/local/cuda/lib/libnccl.so.2";

bool MachineHasNccl() { return access(kMachineNccl, R_OK) == 0; }

#define SKIP_WITHOUT_MACHINE_NCCL() \
  if (!MachineHasNccl()) GTEST_SKIP() << "no " << kMachineNccl << " on this machine"

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(NcclVersionString, DecodesBothEncodings) {
  EXPECT_EQ(NcclVersionString(22803), "2.28.3");
  EXPECT_EQ(NcclVersionString(21003), "2.10.3");
  EXPECT_EQ(NcclVersionString(21403), "2.14.3");
  EXPECT_EQ(NcclVersionString(20901), "2.9.1");
  EXPECT_EQ(NcclVersionString(2804), "2.8.4");  // NCCL's encoding before 2.9
  EXPECT_EQ(NcclVersionString(30000), "3.0.0");
  EXPECT_EQ(NcclVersionString(kMinNcclVersion), "2.14.3");
}

TEST(NcclLibrary, CandidatePaths) {
  EXPECT_EQ(NcclLibrary::CandidatePaths("/opt/nccl/libnccl.so.2", "/home/nccl"),
            std::vector<std::string>{"/opt/nccl/libnccl.so.2"});
  EXPECT_EQ(NcclLibrary::CandidatePaths("", ""),
            (std::vector<std::string>{"libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2",
                                      "/usr/local/cuda/lib64/libnccl.so.2"}));
  auto with_home = NcclLibrary::CandidatePaths("", "/home/nccl");
  ASSERT_EQ(with_home.size(), 4u);
  EXPECT_EQ(with_home.back(), "/home/nccl/lib/libnccl.so.2");
}

TEST(NcclLibrary, LoadsMachineNcclAndReadsVersion) {
  SKIP_WITHOUT_MACHINE_NCCL();
  auto lib = NcclLibrary::Load(kMachineNccl);
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  const NcclLibrary& nccl = **lib;
  EXPECT_GE(nccl.version(), kMinNcclVersion);
  EXPECT_EQ(nccl.version_string(), NcclVersionString(nccl.version()));
  EXPECT_EQ(nccl.version_string().rfind("2.", 0), 0u) << nccl.version_string();
  EXPECT_TRUE(Contains(nccl.path(), "libnccl.so")) << nccl.path();
  // Every entry point resolved, and the library answers through them.
  EXPECT_NE(nccl.fn().CommInitRankConfig, nullptr);
  EXPECT_NE(nccl.fn().GroupEnd, nullptr);
  int code = 0;
  EXPECT_EQ(nccl.fn().GetVersion(&code), ncclSuccess);
  EXPECT_EQ(code, nccl.version());
  std::printf("loaded NCCL %s from %s\n", nccl.version_string().c_str(), nccl.path().c_str());
}

TEST(NcclLibrary, DefaultSearchFindsMachineNccl) {
  SKIP_WITHOUT_MACHINE_NCCL();
  auto lib = NcclLibrary::Load("");
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  EXPECT_GE((*lib)->version(), kMinNcclVersion);
  // Cached per request: the same object every time.
  auto again = NcclLibrary::Load("");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(lib->get(), again->get());
}

TEST(NcclLibrary, MissingLibraryNamesEveryPathTried) {
  std::vector<std::string> candidates = {"/nonexistent/a/libnccl.so.2",
                                         "/nonexistent/b/libnccl.so.2",
                                         "libnccl-not-installed.so.2"};
  auto lib = NcclLibrary::LoadFirst(candidates);
  ASSERT_FALSE(lib.ok());
  const std::string& message = lib.status().message();
  EXPECT_EQ(lib.status().code(), StatusCode::kUnimplemented);
  for (const auto& candidate : candidates) {
    EXPECT_TRUE(Contains(message, candidate + ": ")) << message;
  }
  EXPECT_TRUE(Contains(message, "No such file")) << message;  // dlerror() for each
  EXPECT_TRUE(Contains(message, "COHORT_NCCL_LIBRARY")) << message;
  EXPECT_TRUE(Contains(message, "COHORT_CUDA_BACKEND=staged")) << message;
  EXPECT_TRUE(Contains(message, "2.14.3")) << message;
}

TEST(NcclLibrary, ConfiguredPathIsTheOnlyCandidate) {
  auto lib = NcclLibrary::Load("/nonexistent/configured/libnccl.so.2");
  ASSERT_FALSE(lib.ok());
  const std::string& message = lib.status().message();
  EXPECT_TRUE(Contains(message, "/nonexistent/configured/libnccl.so.2")) << message;
  EXPECT_FALSE(Contains(message, "/usr/local/cuda/lib")) << message;
}

TEST(NcclLibrary, RefusesTooOldVersionNamingBoth) {
  auto lib = NcclLibrary::LoadFirst({COHORT_FAKE_OLD_NCCL});
  ASSERT_FALSE(lib.ok());
  const std::string& message = lib.status().message();
  EXPECT_TRUE(Contains(message, COHORT_FAKE_OLD_NCCL)) << message;
  EXPECT_TRUE(Contains(message, "2.10.3")) << message;
  EXPECT_TRUE(Contains(message, "2.14.3")) << message;
  EXPECT_TRUE(Contains(message, "older")) << message;
}

TEST(NcclLibrary, TooOldCandidateFallsThroughToTheNext) {
  SKIP_WITHOUT_MACHINE_NCCL();
  auto lib = NcclLibrary::LoadFirst({COHORT_FAKE_OLD_NCCL, kMachineNccl});
  ASSERT_TRUE(lib.ok()) << lib.status().ToString();
  EXPECT_GE((*lib)->version(), kMinNcclVersion);
  EXPECT_FALSE(Contains((*lib)->path(), "fake")) << (*lib)->path();
}

TEST(NcclLibrary, MissingSymbolsAreNamed) {
  auto lib = NcclLibrary::LoadFirst({COHORT_FAKE_INCOMPLETE_NCCL});
  ASSERT_FALSE(lib.ok());
  const std::string& message = lib.status().message();
  EXPECT_TRUE(Contains(message, "2.28.9")) << message;
  for (const char* symbol : {"ncclCommInitRankConfig", "ncclCommGetAsyncError", "ncclCommAbort",
                             "ncclAllReduce", "ncclSend", "ncclGroupEnd", "ncclGetLastError"}) {
    EXPECT_TRUE(Contains(message, symbol)) << symbol << " not named in: " << message;
  }
  // The fake does export these two.
  EXPECT_FALSE(Contains(message, "ncclGetErrorString")) << message;
  EXPECT_FALSE(Contains(message, "ncclGetVersion")) << message;
}

TEST(NcclLibrary, NotAnNcclLibrary) {
  auto lib = NcclLibrary::LoadFirst({"libc.so.6"});
  ASSERT_FALSE(lib.ok());
  EXPECT_TRUE(Contains(lib.status().message(), "ncclGetVersion")) << lib.status().message();
}

}  // namespace
}  // namespace cohort
