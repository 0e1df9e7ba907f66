// ps-bench: throughput of the parameter store next to an allreduce of the same bytes through the
// cohort communicator, in the same job; and a ZeRO step next to an allreduce-then-update step.
//
//   cohortrun -np 4 --servers 2 build/benchmarks/ps-bench --json out.json      # dedicated servers
//   cohortrun -np 4 build/benchmarks/ps-bench --colocated 2 --async --no-zero  # 2 of 4 ranks serve
//
// Store part (one store per run: synchronous, or asynchronous with --async): for small keys
// (--small-keys keys of 4 KiB, pushed as one batched call) and a large key (64 MiB), it times
// push, pull and push_pull on every worker,
// then an allreduce (sum) of the same bytes: the small keys both as that many async allreduces
// issued together (the store's message pattern) and as one fused allreduce of all their bytes. Each time is the per-iteration mean on the slowest
// worker. GB/s is the bytes one worker sends (push), receives (pull) or sends and receives (push_pull,
// allreduce) per second: the bandwidth the application sees. ops/s counts key operations of all
// workers together. "ratio" is allreduce time / store time (above 1: the store is faster).
// Servers apply plain SGD, so an update costs one pass over the values.
//
// ZeRO part: a model of --zero-params f32 parameters in 8 tensors trained with Adam: the time of a
// ShardedOptimizer step (stages 1 and 2) and of allreduce(avg) + a fused Adam step over the whole
// model, the optimizer state each rank holds, and how far the parameters end up from the
// unsharded ones (largest difference relative to the parameters' scale, and how many elements
// differ by more than 1e-6 of it: Adam turns a rounding difference of an averaged gradient that is
// within a few ulps of 0 into a visible one).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/cohort.h"
#include "runtime/ps/parameter_store.h"
#include "runtime/zero/sharded_optimizer.h"

namespace {

using namespace cohort;
using Clock = std::chrono::steady_clock;

struct Options {
  int colocated = 0;        // co-located servers (0: every rank; ignored with --servers)
  int small_keys = 64;
  size_t small_bytes = 4096;
  size_t large_bytes = 64u << 20;
  int small_iters = 200, large_iters = 5;
  size_t zero_params = 16u << 20;
  int zero_iters = 5;
  std::string json;
  bool async = false;
  bool skip_zero = false, skip_store = false;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--colocated") o.colocated = std::stoi(next());
    else if (a == "--small-keys") o.small_keys = std::stoi(next());
    else if (a == "--small-bytes") o.small_bytes = std::stoul(next());
    else if (a == "--large-bytes") o.large_bytes = std::stoul(next());
    else if (a == "--small-iters") o.small_iters = std::stoi(next());
    else if (a == "--large-iters") o.large_iters = std::stoi(next());
    else if (a == "--zero-params") o.zero_params = std::stoul(next());
    else if (a == "--zero-iters") o.zero_iters = std::stoi(next());
    else if (a == "--json") o.json = next();
    else if (a == "--async") o.async = true;
    else if (a == "--no-zero") o.skip_zero = true;
    else if (a == "--no-store") o.skip_store = true;
    else throw std::invalid_argument("unknown option " + a + " (see benchmarks/ps_bench/main.cc)");
  }
  return o;
}

// Mean seconds per iteration on the slowest rank.
double Time(Communicator& comm, int warmup, int iters, const std::function<void()>& body) {
  for (int i = 0; i < warmup; ++i) body();
  comm.barrier();
  const auto start = Clock::now();
  for (int i = 0; i < iters; ++i) body();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count() / iters;
  comm.allreduce({&seconds, 1, DataType::kF64}, ReduceOp::kMax);
  return seconds;
}

struct Row {
  std::string mode, op, size;
  int keys;
  size_t bytes;  // per key
  double seconds, allreduce_seconds, fused_seconds;
  int factor;    // 1: one direction; 2: push_pull and allreduce move the bytes both ways
};

void StoreBench(Communicator& comm, const Options& o, std::vector<Row>* rows, std::string* layout) {
  {
    const bool async = o.async;
    ParameterStoreOptions options;
    options.asynchronous = async;
    options.num_servers = o.colocated;
    options.optimizer = OptimizerSpec::Sgd(1e-6);
    auto ps = ParameterStore::FromEnvironment(options);
    *layout = std::to_string(ps->num_servers()) + (ps->dedicated_servers() ? " dedicated" : " co-located");
    for (bool large : {false, true}) {
      const int keys = large ? 1 : o.small_keys;
      const size_t count = (large ? o.large_bytes : o.small_bytes) / 4;
      std::vector<std::vector<float>> values(static_cast<size_t>(keys), std::vector<float>(count, 1.0f));
      std::vector<std::vector<float>> grads = values;
      std::vector<std::string> names;
      std::vector<BufferView> v, g;
      for (int k = 0; k < keys; ++k) {
        names.push_back((large ? "large" : "small") + std::to_string(k));
        v.push_back({values[static_cast<size_t>(k)].data(), count, DataType::kF32});
        g.push_back({grads[static_cast<size_t>(k)].data(), count, DataType::kF32});
      }
      std::vector<ps::KeyDeclaration> decls;
      for (int k = 0; k < keys; ++k) {
        ps::KeyDeclaration d;
        d.spec = {names[static_cast<size_t>(k)], {static_cast<int64_t>(count)}, DataType::kF32};
        d.values = values[static_cast<size_t>(k)].data();
        decls.push_back(d);
      }
      ps->init(decls);
      const int iters = large ? o.large_iters : o.small_iters, warmup = large ? 1 : 10;
      const std::string size = large ? std::to_string(o.large_bytes >> 20) + " MiB"
                                     : std::to_string(o.small_bytes >> 10) + " KiB x" + std::to_string(keys);
      std::vector<WorkPtr> works(static_cast<size_t>(keys));
      const double allreduce = Time(comm, warmup, iters, [&] {
        for (int k = 0; k < keys; ++k) {
          works[static_cast<size_t>(k)] = comm.allreduce_async(g[static_cast<size_t>(k)], v[static_cast<size_t>(k)], ReduceOp::kSum);
        }
        for (auto& w : works) w->wait();
      });
      // The same bytes as one fused allreduce (what Horovod-style fusion buffers do).
      std::vector<float> fused(count * static_cast<size_t>(keys), 1.0f);
      const double fused_allreduce = Time(comm, warmup, iters, [&] {
        comm.allreduce({fused.data(), fused.size(), DataType::kF32}, ReduceOp::kSum);
      });
      const double push = Time(comm, warmup, iters, [&] { ps->push_async(names, g)->wait(); });
      const double pull = Time(comm, warmup, iters, [&] { ps->pull_async(names, v)->wait(); });
      const double push_pull = Time(comm, warmup, iters, [&] { ps->push_pull_async(names, g, v)->wait(); });
      const std::string mode = async ? "async" : "sync";
      rows->push_back({mode, "push", size, keys, count * 4, push, allreduce, fused_allreduce, 1});
      rows->push_back({mode, "pull", size, keys, count * 4, pull, allreduce, fused_allreduce, 1});
      rows->push_back({mode, "push_pull", size, keys, count * 4, push_pull, allreduce, fused_allreduce, 2});
    }
    ps.reset();
    comm.barrier();
  }
}

struct ZeroRow {
  std::string what;
  double seconds;
  size_t state_bytes, gradient_bytes;
  double max_relative_difference;
  double beyond_1e6;  // elements (all ranks) that differ by more than 1e-6 of the parameters' scale
};

void ZeroBench(Communicator& comm, const Options& o, std::vector<ZeroRow>* rows) {
  const size_t total = o.zero_params, tensors = 8, per = total / tensors;
  auto model = [&](std::vector<std::vector<float>>* p, std::vector<std::vector<float>>* g) {
    p->assign(tensors, std::vector<float>(per));
    g->assign(tensors, std::vector<float>(per));
    for (size_t t = 0; t < tensors; ++t) {
      for (size_t i = 0; i < per; ++i) (*p)[t][i] = std::sin(0.001f * static_cast<float>(i + t));
    }
  };
  auto fill_grads = [&](std::vector<std::vector<float>>& g, int step) {
    for (size_t t = 0; t < tensors; ++t) {
      for (size_t i = 0; i < per; ++i) {
        g[t][i] = std::cos(0.003f * static_cast<float>(i) + static_cast<float>(step + comm.rank() + t));
      }
    }
  };
  const OptimizerSpec adam = OptimizerSpec::Adam(1e-3);
  // Reference: allreduce(avg) of one flat gradient buffer, then one fused Adam step over everything.
  std::vector<float> ref_params(per * tensors), ref_grads(per * tensors);
  std::vector<std::vector<float>> p, g;
  model(&p, &g);
  for (size_t t = 0; t < tensors; ++t) std::copy(p[t].begin(), p[t].end(), ref_params.begin() + static_cast<std::ptrdiff_t>(t * per));
  ShardOptimizer whole = ValueOrThrow(ShardOptimizer::Make(adam, ref_params.size(), "reference"));
  // The gradients (what backward would produce) are computed once, outside the timed steps; the
  // reference reduces a copy of them each step, as ZeRO packs them each step.
  fill_grads(g, 1);
  std::vector<float> flat_grads(per * tensors);
  for (size_t t = 0; t < tensors; ++t) std::copy(g[t].begin(), g[t].end(), flat_grads.begin() + static_cast<std::ptrdiff_t>(t * per));
  const double reference = Time(comm, 1, o.zero_iters, [&] {
    std::copy(flat_grads.begin(), flat_grads.end(), ref_grads.begin());
    comm.allreduce({ref_grads.data(), ref_grads.size(), DataType::kF32}, ReduceOp::kAvg);
    whole.BeginStep();
    ThrowIfError(whole.Apply(0, ref_params.size(), ref_params.data(), ref_grads.data(), DataType::kF32,
                             nullptr, DataType::kF32, 1.0));
  });
  rows->push_back({"allreduce + Adam (unsharded)", reference, whole.state_bytes(), ref_grads.size() * 4, 0, 0});
  for (int stage : {1, 2}) {
    model(&p, &g);
    std::vector<BufferView> pv, gv;
    for (size_t t = 0; t < tensors; ++t) {
      pv.push_back({p[t].data(), per, DataType::kF32});
      gv.push_back({g[t].data(), per, DataType::kF32});
    }
    ShardedOptimizer zero(comm, pv, gv, adam, {stage, 16u << 20});
    fill_grads(g, 1);
    const double seconds = Time(comm, 1, o.zero_iters, [&] { zero.step(); });
    double diff = 0, scale = 0, beyond = 0;
    for (size_t t = 0; t < tensors; ++t) {
      for (size_t i = 0; i < per; ++i) scale = std::max(scale, static_cast<double>(std::abs(ref_params[t * per + i])));
    }
    for (size_t t = 0; t < tensors; ++t) {
      for (size_t i = 0; i < per; ++i) {
        const double d = std::abs(p[t][i] - ref_params[t * per + i]);
        diff = std::max(diff, d);
        beyond += d > 1e-6 * scale ? 1 : 0;
      }
    }
    comm.allreduce({&diff, 1, DataType::kF64}, ReduceOp::kMax);
    comm.allreduce({&beyond, 1, DataType::kF64}, ReduceOp::kSum);
    rows->push_back({"ZeRO stage " + std::to_string(stage), seconds, zero.state_bytes(), zero.gradient_bytes(),
                     diff / scale, beyond});
  }
}

std::string Format(const char* fmt, double v) {
  char text[64];
  std::snprintf(text, sizeof(text), fmt, v);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  int rank = -1;
  try {
    const Options o = Parse(argc, argv);
    Communicator& comm = init();
    rank = comm.rank();
    std::vector<Row> rows;
    std::vector<ZeroRow> zero_rows;
    std::string layout;
    if (!o.skip_store) StoreBench(comm, o, &rows, &layout);
    if (!o.skip_zero) ZeroBench(comm, o, &zero_rows);
    if (rank == 0) {
      const int n = comm.size();
      std::ostringstream json;
      json << "{\"workers\": " << n << ", \"servers\": \"" << layout << "\", \"rows\": [";
      if (!rows.empty()) {
        std::printf("# ps-bench: %d workers, %s servers; time = mean per call on the slowest worker\n", n,
                    layout.c_str());
        std::printf("# %-5s %-9s %-12s %10s %8s %10s | %13s %8s %7s | %13s %7s\n", "mode", "op", "keys", "time(us)",
                    "GB/s", "key ops/s", "allreduce(us)", "GB/s", "ratio", "fused AR(us)", "ratio");
      }
      for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const double bytes = static_cast<double>(r.bytes) * r.keys;
        const double gbps = bytes * r.factor / r.seconds / 1e9, ar_gbps = bytes * 2 / r.allreduce_seconds / 1e9;
        const double ops = r.keys * n / r.seconds;
        std::printf("  %-5s %-9s %-12s %10.1f %8.3f %10.0f | %13.1f %8.3f %6.2fx | %13.1f %6.2fx\n", r.mode.c_str(),
                    r.op.c_str(), r.size.c_str(), r.seconds * 1e6, gbps, ops, r.allreduce_seconds * 1e6, ar_gbps,
                    r.allreduce_seconds / r.seconds, r.fused_seconds * 1e6, r.fused_seconds / r.seconds);
        json << (i ? ", " : "") << "{\"mode\": \"" << r.mode << "\", \"op\": \"" << r.op << "\", \"size\": \"" << r.size
             << "\", \"keys\": " << r.keys << ", \"key_bytes\": " << r.bytes << ", \"seconds\": " << r.seconds
             << ", \"gbps\": " << gbps << ", \"key_ops_per_s\": " << ops << ", \"allreduce_seconds\": "
             << r.allreduce_seconds << ", \"allreduce_gbps\": " << ar_gbps << ", \"allreduce_over_store\": "
             << r.allreduce_seconds / r.seconds << ", \"fused_allreduce_seconds\": " << r.fused_seconds
             << ", \"fused_allreduce_over_store\": " << r.fused_seconds / r.seconds << "}";
      }
      json << "], \"zero\": [";
      if (!zero_rows.empty()) {
        std::printf("# ZeRO: %zu f32 parameters (%zu MiB), Adam, %d workers\n", o.zero_params, o.zero_params * 4 >> 20, n);
        std::printf("# %-29s %10s %12s %16s %16s %12s %12s\n", "step", "time(ms)", "vs unsharded", "opt state/rank",
                    "grad buf/rank", "max rel diff", ">1e-6 rel");
      }
      for (size_t i = 0; i < zero_rows.size(); ++i) {
        const ZeroRow& z = zero_rows[i];
        std::printf("  %-29s %10.1f %11.2fx %13.1f MiB %13.1f MiB %12s %12s\n", z.what.c_str(), z.seconds * 1e3,
                    zero_rows[0].seconds / z.seconds, z.state_bytes / 1048576.0, z.gradient_bytes / 1048576.0,
                    i == 0 ? "-" : Format("%.1e", z.max_relative_difference).c_str(),
                    i == 0 ? "-" : Format("%.0f", z.beyond_1e6).c_str());
        json << (i ? ", " : "") << "{\"what\": \"" << z.what << "\", \"seconds\": " << z.seconds
             << ", \"state_bytes\": " << z.state_bytes << ", \"gradient_bytes\": " << z.gradient_bytes
             << ", \"max_relative_difference\": " << z.max_relative_difference
             << ", \"elements_beyond_1e-6\": " << z.beyond_1e6 << "}";
      }
      json << "]}\n";
      if (!o.json.empty()) std::ofstream(o.json) << json.str();
    }
    shutdown();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ps-bench: rank %d: error: %s\n", rank, e.what());
    return 1;
  }
}
