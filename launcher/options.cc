// ParseLaunchOptions: finds where the program starts (the first word that is not one of our
// options or their values, or whatever follows "--"), parses what comes before with
// Boost.Program_options, and validates the values itself so that errors read naturally.
#include "launcher/options.h"

#include <boost/program_options.hpp>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/config/config.h"

namespace cohort::launcher {
namespace po = boost::program_options;
namespace {

po::options_description Describe() {
  po::options_description desc("cohortrun options");
  desc.add_options()
      ("help,h", "print this help")
      ("np,n", po::value<std::string>()->value_name("N"), "number of ranks to start (required)")
      ("tag-output", "prefix output lines with [1,rank]<stdout>: as Open MPI does")
      ("timeout", po::value<std::string>()->value_name("S"),
       "stop the whole job after S (seconds, or 90s, 1500ms, 2m) and exit 124")
      ("grace", po::value<std::string>()->value_name("S"),
       "after a rank fails, wait S for the others to exit before SIGTERM (default 10s)")
      ("x", po::value<std::vector<std::string>>()->value_name("VAR[=VAL]"),
       "set VAR=VAL in every rank, or copy VAR from this environment (repeatable)")
      ("servers", po::value<std::string>()->value_name("K"),
       "also start K dedicated parameter-server processes (cohort-ps-server) for the ranks' "
       "ParameterStore; they exit when every rank is done with it")
      ("server-program", po::value<std::string>()->value_name("PATH"),
       "the parameter-server program (default: cohort-ps-server next to cohortrun)")
      ("host,H", po::value<std::string>()->value_name("HOST:N,..."),
       "run on these hosts, N ranks (slots) each, started through --rsh; -np defaults to the slots")
      ("hostfile", po::value<std::string>()->value_name("F"),
       "hosts from F: 'host slots=N' (Open MPI) or 'host:N' (Horovod) lines, # comments")
      ("rsh", po::value<std::string>()->value_name("CMD"),
       "remote shell that takes a host then a command (default 'ssh -o BatchMode=yes'; "
       "e.g. 'ip netns exec'); split at spaces")
      ("store-addr", po::value<std::string>()->value_name("HOST[:PORT]"),
       "address (and port) the store listens on, which every host must reach (default: the "
       "--network-interface's address, else this host's first non-loopback one)")
      ("network-interface", po::value<std::string>()->value_name("IF"),
       "network interface for the store and the ranks' tcp links: a name, prefixes (eth,ib), "
       "^exclusions or an IPv4 subnet (sets COHORT_SOCKET_IFNAME)")
      ("oversubscribe", "allow more ranks than the hosts' slots")
      ("elastic", "a rank that fails does not stop the job: the others are told and go on with "
                  "fewer ranks (Communicator::shrink, cohort.elastic); with -H, a lost host's ranks too")
      ("mpi", "hand spawning to Open MPI's mpirun (on PATH) with the matching options; the ranks "
              "meet through MPI")
      ("remote-agent", "internal: the per-host agent that --rsh starts; reads its job from stdin")
      ("print-config", "print cohort's settings as this environment gives them, and exit")
      ("print-settings-table", "print every setting as a Markdown table (the README's), and exit");
  return desc;
}

// Options that take a value in the next word, by every spelling the parser accepts.
bool TakesValue(const std::string& word) {
  static const std::set<std::string> kWithValue = {"-np", "--np", "-n", "-timeout", "--timeout",
                                                   "-grace", "--grace", "-x", "--x",
                                                   "-servers", "--servers", "-server-program",
                                                   "--server-program", "-H", "-host", "--host",
                                                   "-hostfile", "--hostfile", "-rsh", "--rsh",
                                                   "-store-addr", "--store-addr",
                                                   "-network-interface", "--network-interface"};
  return kWithValue.count(word) != 0;
}

Result<std::chrono::milliseconds> ParseSeconds(const std::string& flag, const std::string& text,
                                               bool allow_zero) {
  Result<std::chrono::milliseconds> parsed = ParseDuration(text);
  if (!parsed.ok() || (!allow_zero && parsed->count() == 0)) {
    return InvalidArgumentError(flag + " must be a " + (allow_zero ? "" : "positive ") +
                                "duration in seconds (or with a unit: 1500ms, 90s, 2m), got '" +
                                text + "'");
  }
  return *parsed;
}

// Boost's what() fills an error's template by replacing placeholders until none is left, so an
// option word that itself contains "%canonical_option%" never finishes: `cohortrun
// --%canonical_option%` hung (found by tests/fuzz). The template is filled here in one pass; its
// only placeholder for our options (all strings) is the option's name.
std::string DescribeOptionError(const po::error& e) {
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  if (named == nullptr) return e.what();  // a fixed text
  const std::string& text = named->m_error_template;
  const std::string placeholder = "%canonical_option%";
  std::string message;
  size_t at = 0;
  for (size_t hit; (hit = text.find(placeholder, at)) != std::string::npos;
       at = hit + placeholder.size()) {
    message.append(text, at, hit - at).append(named->get_option_name());
  }
  message.append(text, at, std::string::npos);
  if (const auto* ambiguous = dynamic_cast<const po::ambiguous_option*>(&e)) {
    const std::vector<std::string>& names = ambiguous->alternatives();  // ours: no placeholders
    for (size_t i = 0; i < names.size(); ++i) {
      message += std::string(i == 0 ? " and matches " : ", ") +
                 (i > 0 && i + 1 == names.size() ? "and " : "") + "'--" + names[i] + "'";
    }
  }
  return message;
}

}  // namespace

std::string LaunchUsage() {
  std::ostringstream out;
  out << "usage: cohortrun -np N [options] program [args...]\n\n" << Describe();
  return out.str();
}

Result<LaunchOptions> ParseLaunchOptions(int argc, const char* const* argv) {
  // Split ours from the program's before Boost sees anything.
  std::vector<std::string> ours;
  LaunchOptions options;
  int i = 1;
  for (; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") {
      ++i;
      break;
    }
    if (word.size() < 2 || word[0] != '-') break;  // the program
    ours.push_back(word);
    if (TakesValue(word) && i + 1 < argc) ours.push_back(argv[++i]);
  }
  for (; i < argc; ++i) options.command.push_back(argv[i]);

  po::variables_map vm;
  try {
    // The parser keeps a pointer to the description, so it must outlive run().
    const po::options_description desc = Describe();
    po::command_line_parser parser(ours);
    // allow_long_disguise: "-np 4" as Open MPI spells it. No guessing of abbreviations: "-n"
    // would otherwise be ambiguous between --np and --network-interface.
    parser.options(desc).style((po::command_line_style::default_style |
                                po::command_line_style::allow_long_disguise) &
                               ~po::command_line_style::allow_guessing);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return InvalidArgumentError(DescribeOptionError(e) + " (see cohortrun --help)");
  }

  options.help = vm.count("help") != 0;
  options.print_config = vm.count("print-config") != 0;
  options.print_settings_table = vm.count("print-settings-table") != 0;
  options.tag_output = vm.count("tag-output") != 0;
  if (vm.count("x")) options.exports = vm["x"].as<std::vector<std::string>>();
  for (const std::string& x : options.exports) {
    if (x.empty() || x[0] == '=') {
      return InvalidArgumentError("-x needs VAR or VAR=VALUE, got '" + x + "'");
    }
  }
  if (vm.count("timeout")) {
    COHORT_ASSIGN_OR_RETURN(options.timeout,
                            ParseSeconds("--timeout", vm["timeout"].as<std::string>(), false));
  }
  if (vm.count("grace")) {
    COHORT_ASSIGN_OR_RETURN(options.grace,
                            ParseSeconds("--grace", vm["grace"].as<std::string>(), true));
  }
  if (vm.count("servers")) {
    const std::string text = vm["servers"].as<std::string>();
    char* end = nullptr;
    long k = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || k < 0 || k > 65536) {
      return InvalidArgumentError("--servers must be a number of servers from 0 to 65536, got '" +
                                  text + "'");
    }
    options.servers = static_cast<int>(k);
  }
  if (vm.count("server-program")) options.server_program = vm["server-program"].as<std::string>();
  if (vm.count("np")) {
    const std::string text = vm["np"].as<std::string>();
    char* end = nullptr;
    long n = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || n < 1 || n > 1'000'000) {
      return InvalidArgumentError("-np must be a positive integer, got '" + text + "'");
    }
    options.np = static_cast<int>(n);
  }
  auto text_of = [&](const char* name) {
    return vm.count(name) ? vm[name].as<std::string>() : std::string();
  };
  options.host_list = text_of("host");
  options.hostfile = text_of("hostfile");
  options.store_addr = text_of("store-addr");
  options.network_interface = text_of("network-interface");
  options.oversubscribe = vm.count("oversubscribe") != 0;
  options.elastic = vm.count("elastic") != 0;
  options.remote_agent = vm.count("remote-agent") != 0;
  options.mpi = vm.count("mpi") != 0;
  if (vm.count("host") && options.host_list.empty()) {
    return InvalidArgumentError("-H needs a host list, e.g. -H node1:4,node2:4");
  }
  if (vm.count("hostfile") && options.hostfile.empty()) {
    return InvalidArgumentError("--hostfile needs a file name");
  }
  if (!options.host_list.empty() && !options.hostfile.empty()) {
    return InvalidArgumentError("give hosts with -H or with --hostfile, not both");
  }
  if (vm.count("rsh")) {
    std::istringstream words(vm["rsh"].as<std::string>());
    options.rsh.clear();
    for (std::string w; words >> w;) options.rsh.push_back(w);
    if (options.rsh.empty()) {
      return InvalidArgumentError("--rsh needs a command, e.g. --rsh 'ssh -p 2222' or "
                                  "--rsh 'ip netns exec'");
    }
    options.rsh_given = true;
  }
  if (options.mpi) {
    // mpirun places, starts and stops the ranks; cohortrun only translates the options.
    for (const char* name : {"store-addr", "servers", "server-program", "grace"}) {
      if (vm.count(name)) {
        return InvalidArgumentError(std::string("--") + name + " does not apply with --mpi "
                                    "(mpirun starts the ranks and they meet through MPI)");
      }
    }
  } else if (!options.multi_host()) {
    for (const char* name : {"rsh", "store-addr", "network-interface", "oversubscribe"}) {
      if (vm.count(name)) {
        return InvalidArgumentError(std::string("--") + name + " applies to multi-host jobs only; "
                                    "give the hosts with -H or --hostfile");
      }
    }
  } else if (options.servers > 0) {
    return InvalidArgumentError("--servers is not supported with -H/--hostfile yet; start the "
                                "ParameterStore with co-located servers instead");
  }
  if (options.elastic && (options.mpi || options.servers > 0)) {
    return InvalidArgumentError("--elastic works for jobs without --mpi or --servers for now "
                                "(mpirun stops every rank when one fails; dedicated servers hold "
                                "state no survivor has); drop one of them");
  }
  if (options.remote_agent) return options;  // its job comes on stdin
  if (options.help || options.print_config || options.print_settings_table) return options;
  if (options.np == 0 && options.multi_host()) {
    if (options.command.empty()) {
      return InvalidArgumentError("no program given: cohortrun -H host:N,... program [args...]");
    }
    return options;  // one rank per slot
  }
  if (options.np == 0) {
    return InvalidArgumentError("-np N is required: how many ranks to start (see cohortrun --help)");
  }
  if (options.command.empty()) {
    return InvalidArgumentError("no program given: cohortrun -np N program [args...]");
  }
  return options;
}

}  // namespace cohort::launcher
