// COHORT_SOCKET_IFNAME's interface selection (interface_select.h) over made-up interface lists:
// names, prefixes, exact names, exclusions, subnets, the loopback rule and the errors.
#include "runtime/net/interface_select.h"

#include <gtest/gtest.h>

namespace cohort {
namespace {

// In the order getifaddrs() tends to give them: loopback first.
const InterfaceList kHost = {{"lo", "127.0.0.1"},          {"docker0", "172.17.0.1"},
                             {"eth01", "10.1.0.5"},        {"eth0", "10.231.4.7"},
                             {"ib0", "192.168.10.3"},      {"veth3a", "10.231.9.2"}};

std::string Pick(const std::string& spec, const InterfaceList& interfaces = kHost) {
  Result<std::string> address = SelectInterfaceAddress(spec, interfaces);
  EXPECT_TRUE(address.ok()) << spec << ": " << address.status().ToString();
  return address.ok() ? *address : "error";
}

TEST(InterfaceSelect, EmptyTakesTheFirstNonLoopbackElseLocalhost) {
  EXPECT_EQ(Pick(""), "172.17.0.1");
  EXPECT_EQ(Pick("", {{"lo", "127.0.0.1"}}), "127.0.0.1");
  EXPECT_EQ(Pick("", {}), "127.0.0.1");
}

TEST(InterfaceSelect, NamesArePrefixesButAnExactNameWins) {
  EXPECT_EQ(Pick("eth0"), "10.231.4.7");   // eth01 comes first and also starts with eth0
  EXPECT_EQ(Pick("eth"), "10.1.0.5");      // the first eth*
  EXPECT_EQ(Pick("ib,eth"), "10.1.0.5");   // host order, not list order
  EXPECT_EQ(Pick("lo"), "127.0.0.1");      // loopback when it is what was asked for
  EXPECT_EQ(Pick("ve"), "10.231.9.2");
}

TEST(InterfaceSelect, EqualsMeansExactNames) {
  EXPECT_EQ(Pick("=eth0"), "10.231.4.7");
  EXPECT_EQ(Pick("=ib0,eth0"), "10.231.4.7");
  EXPECT_FALSE(SelectInterfaceAddress("=eth", kHost).ok());
}

TEST(InterfaceSelect, CaretExcludesAndAvoidsLoopback) {
  EXPECT_EQ(Pick("^docker,lo"), "10.1.0.5");
  EXPECT_EQ(Pick("^docker"), "10.1.0.5");  // lo is not excluded, but it is the last resort
  EXPECT_EQ(Pick("^docker,eth"), "192.168.10.3");
  EXPECT_EQ(Pick("^=eth01,docker0"), "10.231.4.7");
  EXPECT_EQ(Pick("^docker", {{"lo", "127.0.0.1"}, {"docker0", "172.17.0.1"}}), "127.0.0.1");
}

TEST(InterfaceSelect, SubnetsPickTheFirstAddressInside) {
  EXPECT_EQ(Pick("10.231.0.0/16"), "10.231.4.7");
  EXPECT_EQ(Pick("10.231.9.0/24"), "10.231.9.2");
  EXPECT_EQ(Pick("10.231.9.2/32"), "10.231.9.2");
  EXPECT_EQ(Pick("10.231.77.1/16"), "10.231.4.7");  // host bits are ignored
  EXPECT_EQ(Pick("192.168.0.0/16,eth0"), "10.231.4.7");  // eth0 by exact name first
  EXPECT_EQ(Pick("0.0.0.0/0"), "172.17.0.1");       // everything; loopback last
  EXPECT_EQ(Pick("^10.0.0.0/8,172.16.0.0/12"), "192.168.10.3");
}

TEST(InterfaceSelect, NoMatchListsTheInterfacesPresent) {
  for (const std::string spec : {"wlan0", "=eth", "10.99.0.0/16", "^lo,docker,eth,ib,veth"}) {
    Result<std::string> r = SelectInterfaceAddress(spec, kHost);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("no network interface matches COHORT_SOCKET_IFNAME='" + spec + "'"),
              std::string::npos) << m;
    EXPECT_NE(m.find("interfaces that are up: lo (127.0.0.1), docker0 (172.17.0.1), eth01"),
              std::string::npos) << m;
    EXPECT_NE(m.find("10.0.0.0/16"), std::string::npos) << m;  // the forms it accepts
  }
  Result<std::string> none = SelectInterfaceAddress("eth0", {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("interfaces that are up: none"), std::string::npos);
}

TEST(InterfaceSelect, MalformedSubnetNamesTheBadText) {
  for (const std::string bad : {"10.231.0.0/33", "10.231.0/16", "10.231.0.0/", "10.231.0.0/1x",
                                "eth0,300.1.2.3/8", "/16"}) {
    Result<std::string> r = SelectInterfaceAddress(bad, kHost);
    ASSERT_FALSE(r.ok()) << bad;
    const std::string& m = r.status().message();
    const std::string item = bad.substr(bad.find(',') == std::string::npos ? 0 : bad.find(',') + 1);
    EXPECT_NE(m.find("malformed subnet '" + item + "' in COHORT_SOCKET_IFNAME"), std::string::npos) << m;
    EXPECT_NE(m.find("such as 10.231.0.0/16"), std::string::npos) << m;
  }
  Result<std::string> empty_list = SelectInterfaceAddress("^,", kHost);
  ASSERT_FALSE(empty_list.ok());
  EXPECT_NE(empty_list.status().message().find("names no interface"), std::string::npos);
}

}  // namespace
}  // namespace cohort
