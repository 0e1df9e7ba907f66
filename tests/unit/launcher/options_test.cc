// Tests of cohortrun's command line: good and bad values, -x forms, and that everything from the
// program name on passes through to the program untouched.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "launcher/options.h"

namespace cohort::launcher {
namespace {

Result<LaunchOptions> Parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"cohortrun"};
  argv.insert(argv.end(), args.begin(), args.end());
  return ParseLaunchOptions(static_cast<int>(argv.size()), argv.data());
}

std::string ErrorOf(std::initializer_list<const char*> args) {
  Result<LaunchOptions> r = Parse(args);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(LaunchOptions, Minimal) {
  Result<LaunchOptions> r = Parse({"-np", "4", "python", "train.py"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->np, 4);
  EXPECT_FALSE(r->tag_output);
  EXPECT_FALSE(r->timeout.has_value());
  EXPECT_EQ(r->grace, std::chrono::milliseconds(10'000));
  EXPECT_EQ(r->command, (std::vector<std::string>{"python", "train.py"}));
}

TEST(LaunchOptions, EverySpellingOfNp) {
  for (auto args : {std::initializer_list<const char*>{"-np", "2", "prog"},
                    std::initializer_list<const char*>{"--np", "2", "prog"},
                    std::initializer_list<const char*>{"-n", "2", "prog"},
                    std::initializer_list<const char*>{"--np=2", "prog"}}) {
    Result<LaunchOptions> r = Parse(args);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->np, 2);
    EXPECT_EQ(r->command, std::vector<std::string>{"prog"});
  }
}

TEST(LaunchOptions, AllOptions) {
  Result<LaunchOptions> r = Parse({"-np", "2", "--tag-output", "--timeout", "90", "--grace", "0",
                                   "-x", "A=1", "-x", "HOME", "-x", "B=x=y", "prog"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->tag_output);
  EXPECT_EQ(r->timeout, std::chrono::milliseconds(90'000));
  EXPECT_EQ(r->grace, std::chrono::milliseconds(0));
  EXPECT_EQ(r->exports, (std::vector<std::string>{"A=1", "HOME", "B=x=y"}));
  EXPECT_EQ(Parse({"-np", "1", "--timeout", "1500ms", "p"})->timeout,
            std::chrono::milliseconds(1500));
}

TEST(LaunchOptions, ProgramArgumentsWithDashesPassThrough) {
  Result<LaunchOptions> r =
      Parse({"-np", "2", "python", "-u", "train.py", "-np", "8", "--timeout", "x", "-x", "--help"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->np, 2);
  EXPECT_FALSE(r->timeout.has_value());
  EXPECT_TRUE(r->exports.empty());
  EXPECT_FALSE(r->help);
  EXPECT_EQ(r->command, (std::vector<std::string>{"python", "-u", "train.py", "-np", "8",
                                                  "--timeout", "x", "-x", "--help"}));
  // "--" ends our options even before something that looks like one.
  r = Parse({"-np", "1", "--", "-weird-name", "a"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->command, (std::vector<std::string>{"-weird-name", "a"}));
}

TEST(LaunchOptions, BadNp) {
  EXPECT_EQ(ErrorOf({"-np", "x", "prog"}), "-np must be a positive integer, got 'x'");
  EXPECT_EQ(ErrorOf({"-np", "0", "prog"}), "-np must be a positive integer, got '0'");
  EXPECT_EQ(ErrorOf({"-np", "-3", "prog"}), "-np must be a positive integer, got '-3'");
  EXPECT_EQ(ErrorOf({"-np", "4x", "prog"}), "-np must be a positive integer, got '4x'");
  EXPECT_NE(ErrorOf({"prog"}).find("-np N is required"), std::string::npos);
  EXPECT_NE(ErrorOf({"-np"}).find("np"), std::string::npos);
}

TEST(LaunchOptions, BadValuesAndUnknownOptions) {
  EXPECT_NE(ErrorOf({"-np", "2", "--timeout", "soon", "p"}).find("--timeout must be"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "2", "--timeout", "0", "p"}).find("got '0'"), std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "2", "--grace", "-1", "p"}).find("--grace"), std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "2", "-x", "=V", "p"}).find("-x needs VAR"), std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "2", "--bogus", "p"}).find("bogus"), std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "2"}).find("no program"), std::string::npos);
}

// Found by tests/fuzz (launch_options): Boost formats its errors by replacing placeholders until
// none is left, so an option word containing one looped forever. These must return at once.
TEST(LaunchOptions, OptionWordsThatLookLikeBoostPlaceholdersDoNotHang) {
  EXPECT_EQ(ErrorOf({"--%canonical_option%", "prog"}),
            "unrecognised option '--%canonical_option%' (see cohortrun --help)");
  EXPECT_NE(ErrorOf({"-np", "2", "--x%canonical_option%=1", "p"}).find("%canonical_option%"),
            std::string::npos);
  // The fuzzer's input, word for word.
  EXPECT_FALSE(ErrorOf({"-=b\x10%canonical_option%", "", "", "", "-", "", "", "\x11",
                        "\x11\xff\xffg"})
                   .empty());
  // Ordinary errors read as before.
  EXPECT_EQ(ErrorOf({"-np", "2", "--bogus", "p"}),
            "unrecognised option '--bogus' (see cohortrun --help)");
  EXPECT_EQ(ErrorOf({"-np", "1", "-np", "2", "p"}),
            "option '--np' cannot be specified more than once (see cohortrun --help)");
  EXPECT_NE(ErrorOf({"-=b", "p"}).find("option '-=b' is ambiguous and matches '--"),
            std::string::npos);
}

TEST(LaunchOptions, HelpAndPrintConfigNeedNoProgram) {
  Result<LaunchOptions> r = Parse({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
  r = Parse({"--print-config", "-x", "COHORT_DEBUG=INFO"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->print_config);
  EXPECT_NE(LaunchUsage().find("--tag-output"), std::string::npos);
}

TEST(LaunchOptions, DedicatedParameterServers) {
  Result<LaunchOptions> r = Parse({"-np", "4", "--servers", "2", "prog", "--servers", "9"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->servers, 2);
  EXPECT_EQ(r->command, (std::vector<std::string>{"prog", "--servers", "9"}));
  EXPECT_EQ(Parse({"-np", "1", "prog"})->servers, 0);
  r = Parse({"-np", "1", "--server-program", "/opt/ps", "prog"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->server_program, "/opt/ps");
  EXPECT_NE(ErrorOf({"-np", "4", "--servers", "two", "prog"}).find("--servers must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "4", "--servers", "-1", "prog"}).find("--servers"), std::string::npos);
}

}  // namespace
}  // namespace cohort::launcher

namespace cohort::launcher {
namespace {

TEST(LaunchOptions, MultiHostOptions) {
  Result<LaunchOptions> r = Parse({"-H", "a:2,b:2", "--rsh", "ip  netns exec", "--store-addr",
                                   "10.0.0.1:5000", "--network-interface", "eth1",
                                   "--oversubscribe", "prog", "-H", "x"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->multi_host());
  EXPECT_EQ(r->np, 0);  // one rank per slot
  EXPECT_EQ(r->host_list, "a:2,b:2");
  EXPECT_EQ(r->rsh, (std::vector<std::string>{"ip", "netns", "exec"}));
  EXPECT_EQ(r->store_addr, "10.0.0.1:5000");
  EXPECT_EQ(r->network_interface, "eth1");
  EXPECT_TRUE(r->oversubscribe);
  EXPECT_EQ(r->command, (std::vector<std::string>{"prog", "-H", "x"}));  // the program's own
  Result<LaunchOptions> d = Parse({"--hostfile", "hosts", "-np", "3", "prog"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rsh, (std::vector<std::string>{"ssh", "-o", "BatchMode=yes"}));
  EXPECT_EQ(d->np, 3);
  EXPECT_TRUE(Parse({"--remote-agent"}).ok());  // its job comes on stdin
}

TEST(LaunchOptions, MultiHostMistakes) {
  EXPECT_NE(ErrorOf({"-H", "a:1", "--hostfile", "f", "prog"}).find("not both"), std::string::npos);
  EXPECT_NE(ErrorOf({"-np", "2", "--rsh", "ssh", "prog"}).find("multi-host jobs only"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"-H", "a:1", "--rsh", " ", "prog"}).find("--rsh needs a command"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"-H", "a:1", "--servers", "1", "prog"}).find("not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"-H", "a:1"}).find("no program given"), std::string::npos);
}

}  // namespace
}  // namespace cohort::launcher
