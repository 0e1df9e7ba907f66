// fault_case: one case of the fault-injection suite (run_faults.py), run in every rank by
// cohortrun. Every rank first runs the operation once (links, arenas and server slices are set
// up), then the victim rank misbehaves and the others keep calling the operation until it fails:
//   --op      allreduce | broadcast | allgather | push | pull (parameter store, co-located
//             servers) | save (parameter-store checkpoint into --dir)
//   --fault   none | kill-before | kill-during | kill-after | stop | mismatch-op | mismatch-count
//             | mismatch-dtype | mismatch-root | full-disk (a save that fits, then one into a
//             directory without room for it; the first must still load) | launcher-killed (all
//             ranks call until killed: the runner kills cohortrun) | link-down (all ranks call
//             until their links fail: the runner takes the victim's host off the network)
//   --victim  the rank that misbehaves (default: the last); --mib buffer size (default 4)
// Lines the runner reads (times are CLOCK_REALTIME seconds, comparable across the processes):
//   fault_case: rank V fault <what> at T          the victim, right before it misbehaves
//   fault_case: rank R error at T after S s: MSG  a rank whose call failed (exit 3)
//   fault_case: rank R ok after N calls           no error where none was expected (exit 0)
//   fault_case: rank R no error in S s            no error although one was due (exit 5)
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cohort.h"
#include "runtime/ps/parameter_store.h"

namespace {

using cohort::BufferView;
using cohort::DataType;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Options {
  std::string op = "allreduce";
  std::string fault = "none";
  int victim = -1;
  size_t mib = 4;
  std::string dir;
};

bool Parse(int argc, char** argv, Options* options) {
  std::map<std::string, std::string*> text = {
      {"--op", &options->op}, {"--fault", &options->fault}, {"--dir", &options->dir}};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (auto it = text.find(key); it != text.end()) {
      *it->second = value;
    } else if (key == "--victim") {
      options->victim = std::atoi(value.c_str());
    } else if (key == "--mib") {
      options->mib = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      return false;
    }
  }
  const std::set<std::string> ops = {"allreduce", "broadcast", "allgather", "push", "pull", "save"};
  const std::set<std::string> faults = {"none", "kill-before", "kill-during", "kill-after", "stop",
                                        "mismatch-op", "mismatch-count", "mismatch-dtype",
                                        "mismatch-root", "full-disk", "launcher-killed",
                                        "link-down"};
  return argc % 2 == 1 && ops.count(options->op) == 1 && faults.count(options->fault) == 1;
}

// The victim announces what it does and when, then does it.
void Announce(int me, const std::string& what) {
  std::printf("fault_case: rank %d fault %s at %.3f\n", me, what.c_str(), Now());
  std::fflush(stdout);
}

void Misbehave(int me, const std::string& fault) {
  Announce(me, fault);
  if (fault == "stop") {
    ::raise(SIGSTOP);  // only the timeout can catch this; the launcher kills us later
  } else {
    ::raise(SIGKILL);
  }
}

// The operation under test, on buffers allocated and touched once.
class Operation {
 public:
  Operation(const Options& options, cohort::Communicator& comm)
      : options_(options), comm_(comm), me_(comm.rank()), n_(comm.size()) {
    const size_t count = options.mib * (1u << 20) / sizeof(float);
    send_.assign(count, static_cast<float>(me_ + 1));
    recv_.assign(options.op == "allgather" ? count * static_cast<size_t>(n_) : count, 0.0f);
    if (IsStoreOp()) {
      cohort::ParameterStoreOptions ps_options;
      ps_options.optimizer = cohort::OptimizerSpec::Sgd(0.0);  // values stay put: pulls check them
      store_ = cohort::ParameterStore::FromEnvironment(ps_options);
      std::vector<float> initial(count, 1.0f);
      store_->init("w", View(initial));
    }
  }

  // After a failed save: the checkpoint saved before it still loads and holds the initial values.
  bool EarlierCheckpointLoads() {
    store_->load(options_.dir);
    std::fill(recv_.begin(), recv_.end(), 0.0f);
    store_->pull("w", View(recv_));
    return std::all_of(recv_.begin(), recv_.end(), [](float v) { return v == 1.0f; });
  }

  bool IsStoreOp() const { return options_.op == "push" || options_.op == "pull" || options_.op == "save"; }

  // The call as every well-behaved rank makes it; `variant` is the victim's mismatch, if any.
  void Call(const std::string& variant = "") {
    const std::string& op = options_.op;
    BufferView send = View(send_), recv = View(recv_);
    if (variant == "mismatch-count") send.count -= 1, recv.count -= op == "allgather" ? n_ : 1;
    if (variant == "mismatch-dtype") send.dtype = recv.dtype = DataType::kI32;
    if (variant == "mismatch-op") {
      // The others' call, swapped for another collective of the same size.
      if (op == "broadcast") return comm_.allreduce(send, recv, cohort::ReduceOp::kSum);
      return comm_.broadcast(send, send, 0);
    }
    const int root = variant == "mismatch-root" ? n_ - 1 : 0;
    if (op == "allreduce") comm_.allreduce(send, recv, cohort::ReduceOp::kSum);
    else if (op == "broadcast") comm_.broadcast(send, recv, root);
    else if (op == "allgather") comm_.allgather(send, recv);
    else if (op == "push") store_->push("w", send);
    else if (op == "pull") store_->pull("w", recv);
    else store_->save(options_.dir);  // "save"; Parse allows no other
  }

 private:
  static BufferView View(std::vector<float>& v) { return {v.data(), v.size(), DataType::kF32}; }

  const Options& options_;
  cohort::Communicator& comm_;
  const int me_, n_;
  std::vector<float> send_, recv_;
  std::unique_ptr<cohort::ParameterStore> store_;
};

int Run(const Options& options) {
  cohort::Communicator& comm = cohort::init();
  const int me = comm.rank(), n = comm.size();
  const int victim = options.victim >= 0 ? options.victim : n - 1;
  const std::string& fault = options.fault;
  Operation operation(options, comm);
  operation.Call();  // set-up of links, arenas, server slices; for full-disk, a checkpoint that fits

  // A rank whose call failed says so in the line the runner reads.
  auto report = [&](const cohort::Error& e, double since) {
    const double at = Now();
    std::printf("fault_case: rank %d error at %.3f after %.2f s: %s\n", me, at, at - since, e.what());
    std::fflush(stdout);
    if (fault == "full-disk") {
      const bool loads = operation.EarlierCheckpointLoads();
      std::printf("fault_case: rank %d earlier checkpoint %s\n", me, loads ? "loads intact" : "CORRUPT");
    }
    return 3;
  };
  try {
    comm.barrier();
  } catch (const cohort::Error& e) {
    // The victim may leave the barrier, misbehave and close its links before this rank has
    // finished the barrier: that is the fault, seen here.
    return report(e, Now());
  }

  const bool mismatch = fault.rfind("mismatch-", 0) == 0;
  if (me == victim) {
    if (fault == "kill-before" || fault == "stop") Misbehave(me, fault);
    if (fault == "kill-during") {
      std::thread([me, fault] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        Misbehave(me, fault);
      }).detach();
    }
    // Faults that every rank meets: the victim just marks the time.
    if (mismatch || fault == "full-disk" || fault == "launcher-killed" || fault == "link-down") {
      Announce(me, fault);
    }
  }
  if (fault == "kill-after" && me == victim) {
    // The victim's call completes (the others' same call, their first below, may still be
    // moving data when it goes); then it dies.
    operation.Call();
    Misbehave(me, fault);
  }
  const double start = Now();
  const bool error_due = fault != "none";
  int calls = 0;
  try {
    // Until an error: a call may finish before a fault lands on a fast machine. Without a fault,
    // a few calls must simply succeed.
    while (Now() - start < 120 && (error_due || calls < 3)) {
      operation.Call(me == victim && mismatch ? fault : "");
      ++calls;
      if (mismatch) comm.barrier();  // a mismatch that slipped through may surface here
    }
  } catch (const cohort::Error& e) {
    return report(e, start);
  }
  if (error_due) {
    std::printf("fault_case: rank %d no error in %.1f s\n", me, Now() - start);
    return 5;
  }
  std::printf("fault_case: rank %d ok after %d calls\n", me, calls);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, &options)) {
    std::fprintf(stderr, "usage: fault_case --op OP --fault FAULT [--victim R] [--mib N] [--dir D]\n");
    return 2;
  }
  try {
    return Run(options);
  } catch (const cohort::Error& e) {
    std::printf("fault_case: set-up failed: %s\n", e.what());
    return 1;
  }
}
