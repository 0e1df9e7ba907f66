// Command-line parsing of cohort-bench (see bench_options.h).
#include "benchmarks/cohort_bench/bench_options.h"

#include <charconv>
#include <optional>

#include "benchmarks/cohort_bench/bench_math.h"

namespace cohort::bench {
namespace {

// One option: its short letter and long name. --json and --baseline have no short form; 'J' and
// 'B' only name them internally (a literal "-J" or "-B" is rejected as unknown).
struct OptionSpec {
  char letter;
  std::string_view long_name;
};
constexpr OptionSpec kOptions[] = {
    {'b', "minbytes"}, {'e', "maxbytes"}, {'f', "stepfactor"}, {'i', "stepbytes"},
    {'n', "iters"},    {'w', "warmup_iters"}, {'c', "check"},  {'d', "datatype"},
    {'o', "op"},       {'r', "root"},     {'g', "ngpus"}, {'J', "json"},
    {'B', "baseline"},
};

std::optional<char> FindOption(std::string_view arg, std::string* attached) {
  if (arg.size() >= 3 && arg.substr(0, 2) == "--") {
    std::string_view name = arg.substr(2);
    const size_t eq = name.find('=');
    if (eq != std::string_view::npos) {
      *attached = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    for (const OptionSpec& spec : kOptions) {
      if (spec.long_name == name) return spec.letter;
    }
    return std::nullopt;
  }
  if (arg.size() >= 2 && arg[0] == '-' && arg[1] != 'J' && arg[1] != 'B') {
    for (const OptionSpec& spec : kOptions) {
      if (spec.letter == arg[1]) {
        if (arg.size() > 2) *attached = std::string(arg.substr(2));
        return spec.letter;
      }
    }
  }
  return std::nullopt;
}

Result<long long> ParseInteger(std::string_view option, std::string_view text, long long min) {
  long long value = 0;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc() || end != text.data() + text.size() || value < min) {
    return InvalidArgumentError("option " + std::string(option) + ": '" + std::string(text) +
                                "' is not an integer >= " + std::to_string(min));
  }
  return value;
}

Status ApplyOption(char letter, const std::string& value, BenchOptions& o) {
  const std::string name = letter == 'J'   ? "--json"
                           : letter == 'B' ? "--baseline"
                                           : std::string("-") + letter;
  auto size = [&](size_t& out) -> Status {
    COHORT_ASSIGN_OR_RETURN(out, ParseSize(value));
    return Status::Ok();
  };
  auto integer = [&](long long min) { return ParseInteger(name, value, min); };
  switch (letter) {
    case 'b': return size(o.min_bytes);
    case 'e': return size(o.max_bytes);
    case 'i': return size(o.step_bytes);
    case 'f': { COHORT_ASSIGN_OR_RETURN(long long v, integer(1)); o.step_factor = static_cast<size_t>(v); return Status::Ok(); }
    case 'n': { COHORT_ASSIGN_OR_RETURN(long long v, integer(1)); o.iters = static_cast<int>(v); return Status::Ok(); }
    case 'w': { COHORT_ASSIGN_OR_RETURN(long long v, integer(0)); o.warmup_iters = static_cast<int>(v); return Status::Ok(); }
    case 'c': { COHORT_ASSIGN_OR_RETURN(long long v, integer(0)); o.check = v != 0; return Status::Ok(); }
    case 'r': { COHORT_ASSIGN_OR_RETURN(long long v, integer(0)); o.root = static_cast<int>(v); return Status::Ok(); }
    case 'g': {
      COHORT_ASSIGN_OR_RETURN(long long v, integer(0));
      if (v > 1) {
        return InvalidArgumentError("-g " + value + ": cohort-bench drives one GPU per process; "
                                    "start one process per GPU (cohortrun -np N ... -g 1)");
      }
      o.gpus = static_cast<int>(v);
      return Status::Ok();
    }
    case 'd':
      o.all_dtypes = value == "all";
      if (o.all_dtypes) {
        o.dtypes.assign(std::begin(kAllDataTypes), std::end(kAllDataTypes));
      } else {
        COHORT_ASSIGN_OR_RETURN(DataType dtype, ParseDataType(value));
        o.dtypes = {dtype};
      }
      return Status::Ok();
    case 'o':
      o.all_ops = value == "all";
      if (o.all_ops) {
        o.ops.assign(std::begin(kAllReduceOps), std::end(kAllReduceOps));
      } else {
        COHORT_ASSIGN_OR_RETURN(ReduceOp op, ParseReduceOp(value));
        o.ops = {op};
      }
      return Status::Ok();
    case 'J':
      if (value.empty()) return InvalidArgumentError("--json needs a file name");
      o.json_path = value;
      return Status::Ok();
    case 'B':
      if (value != "mpi" && value != "gloo" && value != "gloo-ring" && value != "gloo-hd") {
        return InvalidArgumentError("--baseline " + value +
                                    ": expected mpi, gloo-ring (or gloo) or gloo-hd");
      }
      o.baseline = value == "gloo" ? "gloo-ring" : value;
      return Status::Ok();
  }
  return InternalError("unhandled option");
}

}  // namespace

Result<size_t> ParseSize(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && (digits.back() == 'B' || digits.back() == 'b')) digits.remove_suffix(1);
  size_t multiplier = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K': case 'k': multiplier = size_t{1} << 10; break;
      case 'M': case 'm': multiplier = size_t{1} << 20; break;
      case 'G': case 'g': multiplier = size_t{1} << 30; break;
      default: break;
    }
    if (multiplier != 1) digits.remove_suffix(1);
  }
  size_t value = 0;
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
      value > SIZE_MAX / multiplier) {
    return InvalidArgumentError("bad size '" + std::string(text) +
                                "'; expected a number of bytes with an optional K, M or G suffix "
                                "(powers of 1024), e.g. 8, 64K, 128M, 1G");
  }
  return value * multiplier;
}

Result<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args) {
  BenchOptions o;
  std::optional<CollectiveKind> collective;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      return o;
    }
    std::string value;
    std::optional<char> letter = FindOption(arg, &value);
    if (!letter) {
      if (!arg.empty() && arg[0] == '-') {
        return InvalidArgumentError("unknown option '" + arg + "'");
      }
      if (collective) {
        return InvalidArgumentError("more than one collective given ('" + arg + "')");
      }
      collective = ParseCollective(arg);
      if (!collective) {
        return InvalidArgumentError("unknown collective '" + arg +
                                    "'; expected allreduce, reduce_scatter, allgather, broadcast, "
                                    "reduce or alltoall");
      }
      continue;
    }
    const bool attached = !value.empty() || arg.find('=') != std::string::npos;
    if (!attached) {
      if (i + 1 >= args.size()) return InvalidArgumentError("option " + arg + " needs a value");
      value = args[++i];
    }
    COHORT_RETURN_IF_ERROR(ApplyOption(*letter, value, o));
  }
  if (!collective) {
    return InvalidArgumentError("no collective given; expected one of allreduce, reduce_scatter, "
                                "allgather, broadcast, reduce, alltoall");
  }
  o.collective = *collective;
  if (o.min_bytes > o.max_bytes) {
    return InvalidArgumentError("minbytes (-b " + std::to_string(o.min_bytes) +
                                ") is larger than maxbytes (-e " + std::to_string(o.max_bytes) + ")");
  }
  if (o.step_factor <= 1 && o.step_bytes == 0 && o.min_bytes != o.max_bytes) {
    return InvalidArgumentError("-i 0 with -f 1 would never reach maxbytes; give -f > 1 or -i > 0");
  }
  if (!IsReduction(o.collective)) {
    o.ops = {ReduceOp::kSum};  // unused: printed as "none"
    o.all_ops = false;
  }
  if (!o.baseline.empty() && o.gpus != 0) {
    return InvalidArgumentError("--baseline " + o.baseline + " runs on CPU buffers only; drop -g");
  }
  if (!o.all_dtypes && !o.all_ops && IsReduction(o.collective)) {
    COHORT_RETURN_IF_ERROR(CheckOpSupported(o.ops[0], o.dtypes[0]));
  }
  return o;
}

std::string Usage(std::string_view program) {
  std::string p(program);
  return "usage: " + p +
         " allreduce|reduce_scatter|allgather|broadcast|reduce|alltoall [options]\n"
         "  -b, --minbytes SIZE      smallest size (default 32M; K, M, G suffixes)\n"
         "  -e, --maxbytes SIZE      largest size (default 32M)\n"
         "  -f, --stepfactor N       multiply the size by N each step (default 1: add -i)\n"
         "  -i, --stepbytes SIZE     add SIZE each step when -f is 1 (default 1M)\n"
         "  -n, --iters N            timed iterations per size (default 20)\n"
         "  -w, --warmup_iters N     untimed iterations first (default 5)\n"
         "  -c, --check 0|1          check every element of the result (default 1)\n"
         "  -d, --datatype T|all     f32 f64 f16 bf16 i8 u8 i32 i64, or nccl-tests' names (default float)\n"
         "  -o, --op OP|all          sum prod min max avg (default sum)\n"
         "  -r, --root R             root of broadcast and reduce (default 0)\n"
         "  -g, --ngpus 0|1          1: buffers on a CUDA device (local rank mod GPU count)\n"
         "      --json FILE          also write the rows as JSON (rank 0)\n"
         "      --baseline SYSTEM    measure another library through the same harness: mpi\n"
         "                           (start with mpirun), gloo-ring or gloo-hd (Gloo's tcp\n"
         "                           transport; start with cohortrun)\n"
         "  -h, --help               this text\n"
         "Run under cohortrun, e.g.: cohortrun -np 4 " + p + " allreduce -b 8 -e 64M -f 4\n";
}

std::string_view NcclTypeName(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return "float";
    case DataType::kF64: return "double";
    case DataType::kF16: return "half";
    case DataType::kBF16: return "bfloat16";
    case DataType::kI8: return "int8";
    case DataType::kU8: return "uint8";
    case DataType::kI32: return "int32";
    case DataType::kI64: return "int64";
  }
  return "?";
}

}  // namespace cohort::bench
