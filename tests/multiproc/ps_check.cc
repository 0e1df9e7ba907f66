// ps_check: the parameter store's multi-process checks, run by cohortrun in every worker rank
// (with co-located servers, or dedicated ones from `cohortrun --servers K`).
//   --case sgd        synchronous SGD through the store == allreduce SGD, bit for bit
//   --case async      4 workers x 1,000 integer pushes, asynchronous: the sum is exact
//   --case staleness  asynchronous with --staleness S: no worker sees itself more than S ahead
//   --case train      AdamW/SGD training of a small model for --steps; --save-every N saves to
//                     --dir; --load resumes from --dir first; --final FILE (worker 0) writes the
//                     values; --resave DIR saves right after the load; --kill-server I --kill-at T
//                     makes worker 0 SIGKILL dedicated server I before step T, after which every
//                     worker must get an error naming that server (printed, exit status 3)
//   --compare-checkpoints A B  (no cohortrun) every key's values, optimizer state and step equal
//   --compare-files A B        (no cohortrun) two --final files are identical
// Each case ends with one line that the CTest pattern matches.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <thread>

#include "runtime/cohort.h"
#include "runtime/net/socket.h"
#include "runtime/ps/manifest.h"
#include "runtime/ps/parameter_store.h"
#include "runtime/store/tcp_store.h"
#include "tests/unit/ps/sync_training.h"

namespace {

using namespace cohort;
using testing::FloatView;

std::map<std::string, std::string> ParseArgs(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) continue;
    std::string value = i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0 ? argv[++i] : "1";
    args[key.substr(2)] = value;
  }
  return args;
}

int Int(const std::map<std::string, std::string>& args, const std::string& key, int fallback) {
  auto it = args.find(key);
  return it == args.end() ? fallback : std::stoi(it->second);
}

ParameterStoreOptions Options(const std::map<std::string, std::string>& args) {
  ParameterStoreOptions options;
  options.num_servers = Int(args, "servers", 0);
  return options;
}

int CaseSgd(const std::map<std::string, std::string>& args) {
  Communicator& comm = init();
  auto ps = ParameterStore::FromEnvironment(Options(args));
  testing::TrainBothWays(*ps, comm, OptimizerSpec::Sgd(0.05, 0.9, true, 1e-3), 5);
  const int servers = ps->num_servers();
  const bool dedicated = ps->dedicated_servers();
  ps.reset();
  comm.barrier();
  if (comm.rank() == 0) {
    std::printf("ps_check sgd: parameters identical to allreduce SGD on %d workers with %d %s servers\n",
                comm.size(), servers, dedicated ? "dedicated" : "co-located");
  }
  return 0;
}

int CaseAsync(const std::map<std::string, std::string>& args) {
  Communicator& comm = init();
  ParameterStoreOptions options = Options(args);
  options.asynchronous = true;
  options.optimizer = OptimizerSpec::Aggregate();
  options.min_split_bytes = 64;
  auto ps = ParameterStore::FromEnvironment(options);
  const int pushes = Int(args, "pushes", 1000);
  std::vector<float> value(256, 0.0f), inc(256, static_cast<float>(comm.rank() + 1));
  ps->init("counter", FloatView(value));
  for (int i = 0; i < pushes; ++i) ps->push("counter", FloatView(inc));
  comm.barrier();
  ps->pull("counter", FloatView(value));
  const float expected = static_cast<float>(pushes) * comm.size() * (comm.size() + 1) / 2;
  for (float v : value) {
    if (v != expected) {
      std::fprintf(stderr, "ps_check async: got %.1f, expected %.1f\n", v, expected);
      return 1;
    }
  }
  ps.reset();
  comm.barrier();
  if (comm.rank() == 0) {
    std::printf("ps_check async: %d x %d pushes summed exactly to %.0f\n", comm.size(), pushes, expected);
  }
  return 0;
}

int CaseStaleness(const std::map<std::string, std::string>& args) {
  Communicator& comm = init();
  ParameterStoreOptions options = Options(args);
  options.asynchronous = true;
  options.staleness = Int(args, "staleness", 2);
  options.optimizer = OptimizerSpec::Aggregate();
  options.min_split_bytes = 4;
  auto ps = ParameterStore::FromEnvironment(options);
  const int n = comm.size(), me = comm.rank(), steps = Int(args, "steps", 60);
  std::vector<float> counts(static_cast<size_t>(n), 0.0f), hot(static_cast<size_t>(n), 0.0f);
  hot[static_cast<size_t>(me)] = 1.0f;
  ps->init("counts", FloatView(counts));
  int lead = 0;
  for (int t = 1; t <= steps; ++t) {
    if (me == n - 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ps->push_pull("counts", FloatView(hot), FloatView(counts));
    lead = std::max(lead, t - static_cast<int>(*std::min_element(counts.begin(), counts.end())));
  }
  std::vector<int32_t> leads(static_cast<size_t>(n));
  comm.allgather({&lead, 1, DataType::kI32}, {leads.data(), leads.size(), DataType::kI32});
  const int max_lead = *std::max_element(leads.begin(), leads.end());
  ps.reset();
  comm.barrier();
  if (max_lead > options.staleness) {
    std::fprintf(stderr, "ps_check staleness: a worker was %d steps ahead (bound %d)\n", max_lead,
                 options.staleness);
    return 1;
  }
  if (me == 0) {
    std::printf("ps_check staleness: largest lead %d of bound %d over %d steps\n", max_lead,
                options.staleness, steps);
  }
  return 0;
}

// ---- train / kill / resume ----

std::shared_ptr<Store> JobStore() {
  EnvMap env = ProcessEnvironment();
  Config config = ValueOrThrow(ParseConfig(env));
  HostPort address = ValueOrThrow(ParseHostPort(env["COHORT_STORE_ADDR"]));
  return ValueOrThrow(TcpStoreClient::Connect(address, config.secret, config.connect_timeout));
}

void KillServer(int server, int workers) {
  auto store = JobStore();
  const std::string key = "ps/ps/pid/" + std::to_string(workers + server);
  const pid_t pid = static_cast<pid_t>(std::stol(ToString(ValueOrThrow(store->Get(key, std::chrono::seconds(10))))));
  std::printf("ps_check train: worker 0 kills parameter server %d (pid %d)\n", server, static_cast<int>(pid));
  std::fflush(stdout);
  ::kill(pid, SIGKILL);
}

int CaseTrain(const std::map<std::string, std::string>& args) {
  Communicator& comm = init();
  auto ps = ParameterStore::FromEnvironment(Options(args));
  const std::string dir = args.count("dir") ? args.at("dir") : "";
  const int steps = Int(args, "steps", 8), save_every = Int(args, "save-every", 0);
  const int kill_server = Int(args, "kill-server", -1), kill_at = Int(args, "kill-at", -1);
  const auto& model = testing::kModel;
  std::vector<std::vector<float>> values(model.size()), grads(model.size());
  std::vector<std::string> names;
  if (args.count("load")) ps->load(dir);
  if (args.count("resave")) ps->save(args.at("resave"));
  for (size_t k = 0; k < model.size(); ++k) {
    values[k].resize(model[k].count());
    grads[k].resize(model[k].count());
    for (size_t i = 0; i < values[k].size(); ++i) values[k][i] = testing::InitialValue(k, i);
    // After a load the keys exist: init keeps the loaded values and state.
    ps->init(model[k].name, FloatView(values[k]), model[k].shape,
             k == 2 ? OptimizerSpec::Sgd(0.1, 0.9) : OptimizerSpec::AdamW(1e-2, 0.01));
    names.push_back(model[k].name);
  }
  for (int step = static_cast<int>(ps->step(names[0])) + 1; step <= steps; ++step) {
    if (step == kill_at && comm.rank() == 0) KillServer(kill_server, comm.size());
    std::vector<BufferView> g, out;
    for (size_t k = 0; k < model.size(); ++k) {
      for (size_t i = 0; i < grads[k].size(); ++i) grads[k][i] = testing::Gradient(comm.rank(), step, k, i);
      g.push_back(FloatView(grads[k]));
      out.push_back(FloatView(values[k]));
    }
    const auto started = std::chrono::steady_clock::now();
    try {
      ps->push_pull_async(names, g, out)->wait();
    } catch (const PeerError& e) {
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      // Later calls fail at once, naming the lost server.
      std::string again;
      try {
        ps->pull_async(names, out)->wait();
      } catch (const Error& later) {
        again = later.what();
      }
      std::printf("ps_check train: worker %d: step %d failed after %.1f s: %s\n", comm.rank(), step,
                  waited, e.what());
      std::printf("ps_check train: worker %d: next call: %s\n", comm.rank(), again.c_str());
      std::fflush(stdout);
      std::_Exit(3);
    }
    if (save_every > 0 && step % save_every == 0) ps->save(dir);
  }
  if (comm.rank() == 0 && args.count("final")) {
    std::ofstream out(args.at("final"), std::ios::binary);
    for (const auto& v : values) out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  }
  ps.reset();
  comm.barrier();
  if (comm.rank() == 0) std::printf("ps_check train: %d steps done\n", steps);
  return 0;
}

int CompareCheckpoints(const std::string& a_dir, const std::string& b_dir) {
  ps::Manifest a = ValueOrThrow(ps::ReadCheckpoint(a_dir)), b = ValueOrThrow(ps::ReadCheckpoint(b_dir));
  if (a.keys.size() != b.keys.size()) {
    std::fprintf(stderr, "checkpoints hold %zu and %zu keys\n", a.keys.size(), b.keys.size());
    return 1;
  }
  for (uint32_t k = 0; k < a.keys.size(); ++k) {
    ps::KeyState x = ValueOrThrow(ps::ReadKeyState(a_dir, a, k)), y = ValueOrThrow(ps::ReadKeyState(b_dir, b, k));
    if (x.values != y.values || x.state != y.state || x.step != y.step || !(a.keys[k].optimizer == b.keys[k].optimizer)) {
      std::fprintf(stderr, "key '%s' differs between %s and %s\n", a.keys[k].spec.name.c_str(),
                   a_dir.c_str(), b_dir.c_str());
      return 1;
    }
  }
  std::printf("ps_check: checkpoints of %d and %d servers hold identical values, optimizer state and steps for %zu keys\n",
              a.num_servers, b.num_servers, a.keys.size());
  return 0;
}

int CompareFiles(const std::string& a, const std::string& b) {
  std::ifstream x(a, std::ios::binary), y(b, std::ios::binary);
  std::string xs((std::istreambuf_iterator<char>(x)), {}), ys((std::istreambuf_iterator<char>(y)), {});
  if (xs.empty() || xs != ys) {
    std::fprintf(stderr, "%s and %s differ (%zu and %zu bytes)\n", a.c_str(), b.c_str(), xs.size(), ys.size());
    return 1;
  }
  std::printf("ps_check: final parameters identical (%zu bytes)\n", xs.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  try {
    if (args.count("compare-checkpoints")) return CompareCheckpoints(args["compare-checkpoints"], argv[argc - 1]);
    if (args.count("compare-files")) return CompareFiles(args["compare-files"], argv[argc - 1]);
    const std::string which = args["case"];
    if (which == "sgd") return CaseSgd(args);
    if (which == "async") return CaseAsync(args);
    if (which == "staleness") return CaseStaleness(args);
    if (which == "train") return CaseTrain(args);
    std::fprintf(stderr, "ps_check: unknown --case '%s'\n", which.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ps_check: %s\n", e.what());
  }
  return 1;
}
