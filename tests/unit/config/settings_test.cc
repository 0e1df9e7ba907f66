// Tests of the settings table: defaults, every setting's parser, duration and byte parsing, old
// aliases with warnings, error messages, and that DescribeConfig never prints the secret.
#include <gtest/gtest.h>

#include <set>

#include "runtime/config/config.h"

namespace cohort {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsSecondsAndUnits) {
  EXPECT_EQ(ParseDuration("600").value(), milliseconds(600'000));
  EXPECT_EQ(ParseDuration("600s").value(), milliseconds(600'000));
  EXPECT_EQ(ParseDuration("1500ms").value(), milliseconds(1500));
  EXPECT_EQ(ParseDuration("2m").value(), milliseconds(120'000));
  EXPECT_EQ(ParseDuration("1h").value(), milliseconds(3'600'000));
  EXPECT_EQ(ParseDuration(" 5S ").value(), milliseconds(5000));
}

TEST(ParseDuration, RejectsGarbage) {
  for (const char* bad : {"", "abc", "-5", "5x", "1.5s", "5 s", "s", "99999999999999999999"}) {
    Result<milliseconds> r = ParseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(ParseDuration("5x").status().message().find("ms, s, m, h"), std::string::npos);
}

TEST(ParseBytes, AcceptsPlainAndBinaryUnits) {
  EXPECT_EQ(ParseBytes("4194304").value(), 4194304u);
  EXPECT_EQ(ParseBytes("4M").value(), 4u << 20);
  EXPECT_EQ(ParseBytes("4MiB").value(), 4u << 20);
  EXPECT_EQ(ParseBytes("64k").value(), 64u << 10);
  EXPECT_EQ(ParseBytes("1G").value(), size_t{1} << 30);
  EXPECT_EQ(ParseBytes("12b").value(), 12u);
}

TEST(ParseBytes, RejectsGarbageAndOverflow) {
  for (const char* bad : {"", "M", "4T", "-1", "4.5M", "99999999999999999999G"}) {
    EXPECT_FALSE(ParseBytes(bad).ok()) << bad;
  }
}

TEST(ParseConfig, DefaultsWhenNothingIsSet) {
  Result<Config> c = ParseConfig({{"UNRELATED", "x"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->timeout, milliseconds(600'000));
  EXPECT_EQ(c->connect_timeout, milliseconds(60'000));
  EXPECT_EQ(c->log_level, LogLevel::kWarn);
  EXPECT_FALSE(c->check_fingerprints);
  EXPECT_EQ(c->transport, TransportChoice::kAuto);
  EXPECT_EQ(c->algorithm, "auto");
  EXPECT_EQ(c->shm_ring_bytes, 4u << 20);
  EXPECT_EQ(c->chunk_bytes, 1u << 20);
  EXPECT_EQ(c->socket_nstreams, 1);
  EXPECT_FALSE(c->busy_wait.has_value());
  EXPECT_TRUE(c->secret.empty());
}

TEST(ParseConfig, BusyWaitIsAutoOrADurationUpToAnHour) {
  EXPECT_FALSE(ParseConfig({{"COHORT_BUSY_WAIT", "AUTO"}})->busy_wait.has_value());
  EXPECT_EQ(ParseConfig({{"COHORT_BUSY_WAIT", "0"}})->busy_wait, milliseconds(0));
  EXPECT_EQ(ParseConfig({{"COHORT_BUSY_WAIT", "250ms"}})->busy_wait, milliseconds(250));
  EXPECT_EQ(ParseConfig({{"COHORT_BUSY_WAIT", "1h"}})->busy_wait, milliseconds(3'600'000));
  for (const char* bad : {"61m", "2h", "-1", "forever", "1.5s"}) {
    Result<Config> r = ParseConfig({{"COHORT_BUSY_WAIT", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("COHORT_BUSY_WAIT"), std::string::npos);
    EXPECT_NE(r.status().message().find("from 0 to 1h"), std::string::npos)
        << r.status().message();
  }
}

TEST(ParseConfig, ReadsEverySetting) {
  EnvMap env = {{"COHORT_TIMEOUT", "90s"},          {"COHORT_DEBUG", "info"},
                {"COHORT_TRANSPORT", "tcp"},        {"COHORT_SOCKET_IFNAME", "eth1"},
                {"COHORT_ALGO", "Ring"},            {"COHORT_SHM_RING_BYTES", "8M"},
                {"COHORT_CHUNK_BYTES", "256k"},     {"COHORT_CONNECT_TIMEOUT", "1500ms"},
                {"COHORT_JOB_ID", "job-42.a"},      {"COHORT_JOB_SECRET", "s3cr3t"},
                {"COHORT_SOCKET_NSTREAMS", "4"}};
  Result<Config> c = ParseConfig(env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->timeout, milliseconds(90'000));
  EXPECT_EQ(c->log_level, LogLevel::kInfo);
  EXPECT_FALSE(c->check_fingerprints);
  EXPECT_EQ(c->transport, TransportChoice::kTcp);
  EXPECT_EQ(c->socket_ifname, "eth1");
  EXPECT_EQ(c->socket_nstreams, 4);
  EXPECT_EQ(c->algorithm, "ring");
  EXPECT_EQ(c->shm_ring_bytes, 8u << 20);
  EXPECT_EQ(c->chunk_bytes, 256u << 10);
  EXPECT_EQ(c->connect_timeout, milliseconds(1500));
  EXPECT_EQ(c->job_id, "job-42.a");
  EXPECT_EQ(c->secret, "s3cr3t");
}

TEST(ParseConfig, DetailTurnsOnFingerprints) {
  Result<Config> c = ParseConfig({{"COHORT_DEBUG", "DETAIL"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->log_level, LogLevel::kDetail);
  EXPECT_TRUE(c->check_fingerprints);
  EXPECT_EQ(ParseConfig({{"COHORT_TRANSPORT", "SHM"}})->transport, TransportChoice::kShm);
}

TEST(ParseConfig, ErrorsNameVariableValueAndAccepted) {
  struct Case {
    const char* var;
    const char* value;
    const char* accepted;
  };
  for (const Case& c : {Case{"COHORT_TIMEOUT", "soon", "ms, s, m, h"},
                        Case{"COHORT_TIMEOUT", "0", "longer than 0"},
                        Case{"COHORT_DEBUG", "LOUD", "WARN, INFO or DETAIL"},
                        Case{"COHORT_TRANSPORT", "rdma", "auto, shm, tcp or ucx"},
                        Case{"COHORT_SHM_RING_BYTES", "100", "at least 4096"},
                        Case{"COHORT_CHUNK_BYTES", "lots", "binary unit"},
                        Case{"COHORT_CONNECT_TIMEOUT", "-1", "seconds"},
                        Case{"COHORT_JOB_ID", "a/b", "A-Z a-z 0-9"},
                        Case{"COHORT_SOCKET_NSTREAMS", "0", "tcp sockets per pair of ranks from 1 to 64"},
                        Case{"COHORT_SOCKET_NSTREAMS", "65", "from 1 to 64"},
                        Case{"COHORT_SOCKET_NSTREAMS", "four", "from 1 to 64"},
                        Case{"COHORT_PS_SERVERS", "-1", "number of servers from 0 to 65536"}}) {
    Result<Config> r = ParseConfig({{c.var, c.value}});
    ASSERT_FALSE(r.ok()) << c.var << "=" << c.value;
    const std::string& m = r.status().message();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.find(c.var), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("'") + c.value + "'"), std::string::npos) << m;
    EXPECT_NE(m.find(c.accepted), std::string::npos) << m;
  }
}

TEST(ParseConfig, OldAliasIsAcceptedWithWarning) {
  std::vector<std::string> warnings;
  Result<Config> c = ParseConfig({{"COHORT_LOG_LEVEL", "INFO"}}, &warnings);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->log_level, LogLevel::kInfo);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("COHORT_LOG_LEVEL"), std::string::npos);
  EXPECT_NE(warnings[0].find("COHORT_DEBUG"), std::string::npos);
}

TEST(ParseConfig, CanonicalNameWinsOverAlias) {
  std::vector<std::string> warnings;
  Result<Config> c =
      ParseConfig({{"COHORT_LOG_LEVEL", "INFO"}, {"COHORT_DEBUG", "DETAIL"}}, &warnings);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->log_level, LogLevel::kDetail);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignored"), std::string::npos);
}

TEST(ParseConfig, BadAliasValueNamesTheAlias) {
  Result<Config> c = ParseConfig({{"COHORT_LOG_LEVEL", "LOUD"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("COHORT_LOG_LEVEL='LOUD'"), std::string::npos);
}

TEST(DescribeConfig, ShowsValuesAndDefaultsButNeverTheSecret) {
  EnvMap env = {{"COHORT_TIMEOUT", "30s"}, {"COHORT_JOB_SECRET", "topsecretvalue"}};
  std::string text = DescribeConfig(env);
  for (const SettingInfo& s : AllSettings()) EXPECT_NE(text.find(s.name), std::string::npos);
  EXPECT_NE(text.find("30s"), std::string::npos);
  EXPECT_NE(text.find("[default]"), std::string::npos);
  EXPECT_NE(text.find("(set, hidden)"), std::string::npos);
  EXPECT_EQ(text.find("topsecretvalue"), std::string::npos);
  EXPECT_NE(DescribeConfig({}).find("(not set)"), std::string::npos);
}

TEST(DescribeConfig, FlagsInvalidValuesAndAliases) {
  std::string text = DescribeConfig({{"COHORT_TRANSPORT", "rdma"}, {"COHORT_LOG_LEVEL", "INFO"}});
  EXPECT_NE(text.find("invalid: expected auto, shm, tcp or ucx"), std::string::npos) << text;
  EXPECT_NE(text.find("old name COHORT_LOG_LEVEL"), std::string::npos) << text;
}

TEST(SettingsTable, MarkdownListsEverySettingOnce) {
  std::string md = SettingsMarkdownTable();
  std::set<std::string> names;
  for (const SettingInfo& s : AllSettings()) {
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
    EXPECT_NE(md.find("`" + s.name + "`"), std::string::npos);
    EXPECT_FALSE(s.help.empty());
  }
  EXPECT_NE(md.find("COHORT_LOG_LEVEL"), std::string::npos);
  EXPECT_EQ(md.find("| Variable"), 0u);
}

}  // namespace
}  // namespace cohort
