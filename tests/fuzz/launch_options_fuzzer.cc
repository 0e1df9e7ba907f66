// Fuzz target: cohortrun's command line (launcher/options.h), argv words taken from the input
// (separated by NUL bytes). Properties: parsing never throws (Boost errors become Status);
// what it accepts is in range (-np 1..1'000'000, --servers 0..65536, a positive --timeout, a
// --grace of zero or more, -x VAR[=VAL] with a name, hosts from -H or --hostfile but not both,
// a non-empty --rsh) and names a program unless only help, printing or the agent was asked for.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "launcher/options.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::launcher;
  std::vector<std::string> words = {"cohortrun"};
  std::string word;
  for (size_t i = 0; i < size && words.size() < 64; ++i) {
    if (data[i] == 0) {
      words.push_back(word);
      word.clear();
    } else {
      word.push_back(static_cast<char>(data[i]));
    }
  }
  if (!word.empty()) words.push_back(word);
  std::vector<const char*> argv;
  for (const std::string& w : words) argv.push_back(w.c_str());
  argv.push_back(nullptr);

  cohort::Result<LaunchOptions> parsed =
      ParseLaunchOptions(static_cast<int>(words.size()), argv.data());
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == cohort::StatusCode::kInvalidArgument, "%s",
               parsed.status().ToString().c_str());
    return 0;
  }
  const LaunchOptions& o = *parsed;
  FUZZ_CHECK(o.np >= 0 && o.np <= 1'000'000, "-np %d", o.np);
  FUZZ_CHECK(o.servers >= 0 && o.servers <= 65536, "--servers %d", o.servers);
  FUZZ_CHECK(!o.timeout || o.timeout->count() > 0, "--timeout of %lld ms",
             static_cast<long long>(o.timeout->count()));
  FUZZ_CHECK(o.grace.count() >= 0, "--grace of %lld ms", static_cast<long long>(o.grace.count()));
  for (const std::string& x : o.exports) {
    FUZZ_CHECK(!x.empty() && x[0] != '=', "-x '%s'", x.c_str());
  }
  FUZZ_CHECK(o.host_list.empty() || o.hostfile.empty(), "both -H and --hostfile");
  FUZZ_CHECK(!o.rsh.empty(), "an empty --rsh");
  for (const std::string& w : o.rsh) FUZZ_CHECK(!w.empty(), "an empty --rsh word");
  const bool no_program_needed = o.help || o.print_config || o.print_settings_table ||
                                 o.remote_agent;
  if (!no_program_needed) {
    FUZZ_CHECK(!o.command.empty(), "accepted without a program");
    FUZZ_CHECK(o.np >= 1 || o.multi_host(), "accepted without -np or hosts");
  }
  return 0;
}
