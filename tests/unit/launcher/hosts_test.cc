// Host lists (-H), hostfiles (Open MPI and Horovod forms) and rank placement: good inputs,
// garbage, comments, slot counts, and error messages that name the line and the fix.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "launcher/agent_protocol.h"
#include "launcher/hosts.h"

namespace cohort::launcher {
namespace {

std::string Describe(const std::vector<HostSlots>& hosts) {
  std::string out;
  for (const HostSlots& h : hosts) out += h.host + "=" + std::to_string(h.slots) + " ";
  return out;
}

std::string ParsedList(const std::string& text) {
  auto r = ParseHostList(text);
  return r.ok() ? Describe(*r) : r.status().message();
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(HostfileDashH, Forms) {
  auto r = ParseHostList("node1:4,node2:4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Describe(*r), "node1=4 node2=4 ");
  EXPECT_EQ(ParsedList("a,b:2,10.0.0.3:1"), "a=1 b=2 10.0.0.3=1 ");
  EXPECT_EQ(ParsedList("a:2,b,a:3"), "a=5 b=1 ");  // repeats add up
}

TEST(HostfileDashH, Garbage) {
  for (const char* bad : {"", ",", "a,,b", "a:", "a:0", "a:-1", "a:x", ":4", "a:4:5", "a b:2",
                          "a:99999999", "a;b"}) {
    auto r = ParseHostList(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(Has(r.status().message(), "host:slots")) << r.status().message();
    EXPECT_TRUE(Has(r.status().message(), "-H")) << r.status().message();
  }
}

TEST(Hostfile, OpenMpiAndHorovodFormsWithComments) {
  const std::string text =
      "# cluster\n"
      "\n"
      "node1 slots=4\n"
      "  node2   slots=2 max_slots=8   # a comment after the host\n"
      "node3:3\n"
      "node4\n"
      "node5 slots 2\r\n"
      "\t\n";
  auto r = ParseHostfile(text, "hosts.txt");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Describe(*r), "node1=4 node2=2 node3=3 node4=1 node5=2 ");
}

TEST(Hostfile, MalformedLinesAreNamed) {
  struct Case {
    const char* text;
    const char* line;  // "hosts:N"
    const char* part;  // what the message must say
  };
  for (const Case& c : std::vector<Case>{
           {"a slots=4\nb slots=x\n", "hosts:2:", "slots must be a number"},
           {"a slots=0\n", "hosts:1:", "slots must be a number"},
           {"# x\n\na cores=4\n", "hosts:3:", "unknown field 'cores'"},
           {"a:2 slots=2\n", "hosts:1:", "slots given twice"},
           {"a:z\n", "hosts:1:", "bad host or slot count"},
           {"a slots\n", "hosts:1:", "has no value"},
           {"a\nb=c\n", "hosts:2:", "bad host"}}) {
    auto r = ParseHostfile(c.text, "hosts");
    ASSERT_FALSE(r.ok()) << c.text;
    const std::string m = r.status().message();
    EXPECT_TRUE(Has(m, c.line)) << m;
    EXPECT_TRUE(Has(m, c.part)) << m;
    EXPECT_TRUE(Has(m, "host slots=N")) << m;
  }
}

TEST(Hostfile, EmptyOrMissing) {
  auto empty = ParseHostfile("# nothing\n\n", "f");
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(Has(empty.status().message(), "no hosts")) << empty.status().message();
  auto missing = ReadHostfile("/nonexistent/cohort-hostfile");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Has(missing.status().message(), "/nonexistent/cohort-hostfile"));
}

TEST(Hostfile, PlacementFillsSlotsInOrder) {
  std::vector<HostSlots> hosts{{"a", 2}, {"b", 3}};
  auto r = PlaceRanks(hosts, 0, false);  // one rank per slot
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].first_rank, 0);
  EXPECT_EQ((*r)[0].count, 2);
  EXPECT_EQ((*r)[1].first_rank, 2);
  EXPECT_EQ((*r)[1].count, 3);
  EXPECT_EQ((*r)[1].node_rank, 1);

  auto few = PlaceRanks(hosts, 2, false);  // host b gets nothing and is left out
  ASSERT_TRUE(few.ok());
  ASSERT_EQ(few->size(), 1u);
  EXPECT_EQ((*few)[0].host, "a");
}

TEST(Hostfile, MoreRanksThanSlots) {
  std::vector<HostSlots> hosts{{"a", 2}, {"b", 2}};
  auto r = PlaceRanks(hosts, 5, false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "-np 5")) << r.status().message();
  EXPECT_TRUE(Has(r.status().message(), "only 4 slots")) << r.status().message();
  EXPECT_TRUE(Has(r.status().message(), "--oversubscribe")) << r.status().message();

  auto over = PlaceRanks(hosts, 7, true);  // extras dealt round-robin: a 4, b 3
  ASSERT_TRUE(over.ok());
  EXPECT_EQ((*over)[0].count, 4);
  EXPECT_EQ((*over)[1].first_rank, 4);
  EXPECT_EQ((*over)[1].count, 3);
}

// Found by tests/fuzz (hosts, on a long input): a host named 2148 times with 1000000 slots each
// overflowed its int slot count (undefined behaviour; a negative count in practice), and hosts
// whose slots add up past INT_MAX made "one rank per slot" place a garbage number of ranks.
TEST(Hostfile, SlotCountsNeverOverflow) {
  std::string list, file;
  for (int i = 0; i < 2148; ++i) {
    list += "a:1000000,";
    file += "a slots=1000000\n";
  }
  list += "a";
  auto r = ParseHostList(list);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "host a is given more than 1000000 slots in all"))
      << r.status().message();
  auto f = ParseHostfile(file, "hosts.txt");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(Has(f.status().message(), "hosts.txt:2: host a")) << f.status().message();
  auto merged = ParseHostList("a:600000,b,a:400000");  // exactly the limit is fine
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ((*merged)[0].slots, 1'000'000);

  std::vector<HostSlots> many(2148, HostSlots{"h", 1'000'000});
  for (size_t i = 0; i < many.size(); ++i) many[i].host = "h" + std::to_string(i);
  auto all = PlaceRanks(many, 0, false);
  ASSERT_FALSE(all.ok());
  EXPECT_TRUE(Has(all.status().message(), "2148000000 slots")) << all.status().message();
  auto some = PlaceRanks(many, 1'000'000, false);  // an explicit -np still works
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(some->size(), 1u);
}

// Found by tests/fuzz (agent_protocol): first_rank and count of up to 2^30 each overflowed int
// when checked against the world size (undefined behaviour, and it could let the job through).
TEST(CohortrunAgentProtocol, RanksAreCheckedWithoutOverflow) {
  auto job = [](const std::string& world, const std::string& node, const std::string& first,
                const std::string& count) {
    std::string payload;
    for (const std::string& f : {world, node, first, count, std::string("0"), std::string("h:1"),
                                 std::string("j"), std::string("s"), std::string("1"),
                                 std::string("prog"), std::string("0")}) {
      payload += f;
      payload.push_back('\0');
    }
    return DecodeAgentJob(payload);
  };
  auto big = job("1073741824", "0", "1073741824", "1073741824");
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(Has(big.status().message(), "ranks outside the world")) << big.status().message();
  auto node = job("4", "4", "0", "4");
  ASSERT_FALSE(node.ok());
  EXPECT_TRUE(Has(node.status().message(), "node rank")) << node.status().message();
  EXPECT_FALSE(job("4", "-1", "0", "4").ok());
  EXPECT_TRUE(job("1073741824", "3", "1073741820", "4").ok());
}

TEST(CohortrunAgentProtocol, JobRoundTripsWithAwkwardValues) {
  AgentJob job;
  job.world_size = 8;
  job.node_rank = 1;
  job.first_rank = 4;
  job.count = 4;
  job.tag_output = true;
  job.store_addr = "10.0.0.1:4242";
  job.job_id = "cohort-0123";
  job.secret = "s3cret with spaces\nand a newline";
  job.command = {"prog", "--flag", "", "a=b"};
  job.env = {{"COHORT_TIMEOUT", "60"}, {"MULTI", "x=y\nz"}};
  const std::string encoded = EncodeAgentJob(job);
  const size_t newline = encoded.find('\n');
  auto bytes = DecodeAgentHeader(encoded.substr(0, newline));
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, encoded.size() - newline - 1);
  auto back = DecodeAgentJob(encoded.substr(newline + 1));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->secret, job.secret);
  EXPECT_EQ(back->command, job.command);
  EXPECT_EQ(back->env, job.env);
  EXPECT_EQ(back->first_rank, 4);
  EXPECT_TRUE(back->tag_output);

  EXPECT_FALSE(DecodeAgentHeader("hello").ok());
  EXPECT_FALSE(DecodeAgentJob(encoded.substr(newline + 1, 20)).ok());
}

TEST(CohortrunAgentProtocol, ControlLines) {
  AgentEvent e;
  std::string line = AgentExitLine(3, 1234, 9);
  line.pop_back();
  ASSERT_TRUE(ParseAgentLine(line, &e));
  EXPECT_EQ(e.kind, AgentEvent::kExit);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.pid, 1234);
  EXPECT_EQ(e.wait_status, 9);
  line = AgentErrorLine("cannot start 'x':\nNo such file");
  line.pop_back();
  ASSERT_TRUE(ParseAgentLine(line, &e));
  EXPECT_EQ(e.kind, AgentEvent::kError);
  EXPECT_EQ(e.message, "cannot start 'x': No such file");
  EXPECT_FALSE(ParseAgentLine("[3] @@cohort-agent started", &e));
}

}  // namespace
}  // namespace cohort::launcher
