#!/usr/bin/python3
"""Training throughput of examples/train.py's model: cohort's DistributedOptimizer against
torch.distributed DistributedDataParallel over gloo, in the same job.

Run it in every rank (cohortrun gives the identity; the gloo group reuses it):

    build/launcher/cohortrun -np 4 -x PYTHONPATH=build/bindings/python \\
        /usr/bin/python3 benchmarks/train_bench.py --json out/train-np4.json

Both sides train the same model from the same weights on the same shards with the same batch,
SGD settings and thread count. After --warmup untimed steps each, they take turns: --rounds
times, each side runs --steps timed steps, the first side rotating from round to round. A
segment's time is the slowest rank's; samples/s = steps x batch x ranks / time. The best and the median segment of each side are
reported, and the ratio of each (other load on the machine only ever slows a segment down, so
on a shared machine the best segments are the cleaner comparison). A third side takes its turn in the same rotation:
  * compute only: the same steps with no communication (the ceiling for both sides);
  * compute + barrier: the same, with a cohort barrier after every step: what waiting for the
    other ranks costs the computation (README "Waiting": compare with COHORT_BUSY_WAIT=0).
Rank 0 also reports, from the same ranks:
  * the CPU time (all threads of the process) per step of each side;
  * one allreduce of all the gradients (a flat float32 buffer) through cohort and through gloo;
  * cohort's step split into forward+backward and optimizer.step() (the wait for the last
    bucket, unpacking and SGD).

    train_bench.py --plot out/train-np*.json -o out/throughput.png   # bar plot of JSON files
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import train as demo  # noqa: E402  (examples/train.py: the model and the data)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=32, help="samples per rank per step")
    p.add_argument("--steps", type=int, default=10, help="timed steps per segment")
    p.add_argument("--rounds", type=int, default=3, help="segments per side, alternating")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per side first")
    p.add_argument("--compression", choices=["none", "fp16", "bf16"], default="none",
                   help="cohort: Compression.<this>; DDP: the matching ddp_comm_hooks hook")
    p.add_argument("--allreduce-iters", type=int, default=5,
                   help="iterations of the raw gradient-sized allreduce per library")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", help="rank 0 writes the results here")
    p.add_argument("--plot", nargs="+", metavar="JSON", help="plot these result files and exit")
    p.add_argument("-o", "--output", help="PNG for --plot")
    return p.parse_args()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bench:
    def __init__(self, args):
        import cohort.torch as ct
        import torch.distributed as dist

        self.ct, self.dist, self.args = ct, dist, args
        torch.set_num_threads(1)
        ct.init()
        self.rank, self.size = ct.rank(), ct.size()
        # torch.distributed over gloo, with cohort's identity; rank 0 picks the port.
        port = torch.tensor([free_port() if self.rank == 0 else 0], dtype=torch.int64)
        ct.broadcast_(port, root_rank=0)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{int(port)}",
                                rank=self.rank, world_size=self.size)
        n = max(4096, 64 * args.batch_size * self.size)
        x, y = demo.make_shard(args.seed, n, self.rank, self.size)
        # Each side gets its own iterator over the same batches in the same order.
        self.batches = lambda: demo.batches(x, y, args.batch_size, args.seed + self.rank)
        torch.manual_seed(args.seed)
        self.initial = demo.Net().state_dict()
        self.nparams = sum(t.numel() for t in self.initial.values())

    def fresh(self):
        model = demo.Net()
        model.load_state_dict(self.initial)
        return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def slowest(self, seconds: float) -> float:
        return float(self.ct.allreduce(torch.tensor([seconds], dtype=torch.float64),
                                       op=self.ct.Max))

    def segment(self, step, barrier, steps, cpu=None):
        """Runs `steps` steps after a barrier; returns the slowest rank's time. Appends the
        CPU seconds that this process (all its threads) used, averaged over ranks, to `cpu`."""
        barrier()
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        wall, used = time.perf_counter() - t, time.process_time() - c
        if cpu is not None:
            cpu.append(float(self.ct.allreduce(torch.tensor([used], dtype=torch.float64),
                                               op=self.ct.Average)))
        return self.slowest(wall)

    def make_cohort(self):
        ct = self.ct
        model, opt = self.fresh()
        ct.broadcast_parameters(model.state_dict(), root_rank=0)
        ct.broadcast_optimizer_state(opt, root_rank=0)
        comp = {"none": ct.Compression.none, "fp16": ct.Compression.fp16,
                "bf16": ct.Compression.bf16}[self.args.compression]
        opt = ct.DistributedOptimizer(opt, named_parameters=model.named_parameters(),
                                      compression=comp)
        times = {"fwd_bwd": 0.0, "step": 0.0, "n": 0}
        data = self.batches()

        def step():
            xb, yb = next(data)
            t0 = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            t1 = time.perf_counter()
            opt.step()
            t2 = time.perf_counter()
            times["fwd_bwd"] += t1 - t0
            times["step"] += t2 - t1
            times["n"] += 1
        return step, times, model

    def make_ddp(self):
        from torch.nn.parallel import DistributedDataParallel as DDP
        model, opt = self.fresh()
        ddp = DDP(model)  # broadcasts rank 0's weights; default buckets (1 MiB first, 25 MiB)
        if self.args.compression != "none":
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
            hook = {"fp16": default_hooks.fp16_compress_hook,
                    "bf16": default_hooks.bf16_compress_hook}[self.args.compression]
            ddp.register_comm_hook(None, hook)
        data = self.batches()

        def step():
            xb, yb = next(data)
            opt.zero_grad()
            F.cross_entropy(ddp(xb), yb).backward()
            opt.step()
        return step, model

    def make_local(self, barrier=None):
        model, opt = self.fresh()
        data = self.batches()

        def step():
            xb, yb = next(data)
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            if barrier is not None:
                barrier()
        return step

    def raw_allreduce(self):
        """Seconds per allreduce(avg) of one flat float32 buffer of every gradient."""
        ct, dist, iters = self.ct, self.dist, self.args.allreduce_iters
        buf = torch.ones(self.nparams)
        out = {"cohort": [], "gloo": []}
        ct.allreduce_(buf)
        dist.all_reduce(buf)
        for _ in range(iters):
            out["cohort"].append(self.segment(lambda: ct.allreduce_(buf, op=ct.Average),
                                              ct.barrier, 1))
            out["gloo"].append(self.segment(lambda: dist.all_reduce(buf), dist.barrier, 1))
        return {k: statistics.median(v) for k, v in out.items()}

    def run(self):
        a, ct, dist = self.args, self.ct, self.dist
        spr = a.steps * a.batch_size * self.size  # samples per segment, all ranks
        c_step, c_times, c_model = self.make_cohort()
        d_step, d_model = self.make_ddp()
        l_step = self.make_local()
        b_step = self.make_local(barrier=ct.barrier)
        sides = [("cohort", c_step, ct.barrier), ("ddp_gloo", d_step, dist.barrier),
                 ("compute_only", l_step, ct.barrier), ("compute_barrier", b_step, ct.barrier)]
        for _, step, barrier in sides:
            self.segment(step, barrier, a.warmup)
        c_times.update(fwd_bwd=0.0, step=0.0, n=0)
        seg = {name: [] for name, _, _ in sides}
        cpu = {name: [] for name in seg}
        for r in range(a.rounds):
            # Rotate which side goes first so drift (thermal, neighbours) hits every side.
            k = r % len(sides)
            for name, step, barrier in sides[k:] + sides[:k]:
                seg[name].append(self.segment(step, barrier, a.steps, cpu[name]))
            if self.rank == 0:
                print(f"round {r + 1}/{a.rounds}: " + "  ".join(
                    f"{name} {spr / seg[name][-1]:.1f}" for name in seg) + " samples/s",
                    flush=True)
        raw = self.raw_allreduce()

        # Both trained the same model on the same batches: their weights must still agree.
        diff = max(float((p - q).abs().max()) for p, q in
                   zip(c_model.parameters(), d_model.parameters()))
        fwd_bwd = self.slowest(c_times["fwd_bwd"] / c_times["n"])
        opt_step = self.slowest(c_times["step"] / c_times["n"])

        result = {
            "ranks": self.size, "batch_per_rank": a.batch_size, "steps_per_segment": a.steps,
            "rounds": a.rounds, "warmup_steps": a.warmup, "compression": a.compression,
            "parameters": self.nparams, "gradient_bytes": 4 * self.nparams,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "fusion_threshold_env": os.environ.get("COHORT_FUSION_THRESHOLD"),
            "busy_wait_env": os.environ.get("COHORT_BUSY_WAIT"),
            "samples_per_s": {}, "segments_s": seg,
            "cpu_s_per_step_per_rank": {k: statistics.median(v) / a.steps for k, v in cpu.items()},
            "cohort_step_split_s": {"forward_backward": fwd_bwd, "optimizer_step": opt_step},
            "allreduce_all_grads_s": raw,
            "max_weight_diff_cohort_vs_ddp": diff,
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        }
        for name, times in seg.items():
            result["samples_per_s"][name] = {"median": spr / statistics.median(times),
                                             "best": spr / min(times)}
        sps = result["samples_per_s"]
        result["ratio_cohort_over_gloo"] = sps["cohort"]["median"] / sps["ddp_gloo"]["median"]
        result["ratio_cohort_over_gloo_best"] = sps["cohort"]["best"] / sps["ddp_gloo"]["best"]
        # What a library with free communication would reach: compute only over gloo.
        result["ceiling_over_gloo_best"] = sps["compute_only"]["best"] / sps["ddp_gloo"]["best"]
        if self.rank == 0:
            print(f"ranks {self.size}  batch {a.batch_size}/rank  {self.nparams / 1e6:.2f} M "
                  f"params  compression {a.compression}  COHORT_BUSY_WAIT="
                  f"{os.environ.get('COHORT_BUSY_WAIT', '(auto)')}", flush=True)
            for name in seg:
                print(f"  {name:15s} {sps[name]['median']:8.1f} samples/s (median)  "
                      f"{sps[name]['best']:8.1f} (best)", flush=True)
            print(f"  ratio cohort/gloo {result['ratio_cohort_over_gloo']:.2f} (medians)  "
                  f"{result['ratio_cohort_over_gloo_best']:.2f} (best segments); no-communication "
                  f"ceiling {result['ceiling_over_gloo_best']:.2f}", flush=True)
            step_s = statistics.median(seg["cohort"]) / a.steps
            print(f"  cohort step {step_s * 1e3:.1f} ms = fwd+bwd {fwd_bwd * 1e3:.1f} ms + "
                  f"opt.step {opt_step * 1e3:.1f} ms (slowest rank's means); compute-only step "
                  f"{statistics.median(seg['compute_only']) / a.steps * 1e3:.1f} ms", flush=True)
            print("  CPU s/step/rank (all threads): " + "  ".join(
                f"{k} {v * 1e3:.1f} ms" for k, v in result["cpu_s_per_step_per_rank"].items()),
                flush=True)
            print(f"  allreduce of {4 * self.nparams / 2**20:.1f} MiB: cohort "
                  f"{raw['cohort'] * 1e3:.1f} ms  gloo {raw['gloo'] * 1e3:.1f} ms", flush=True)
            print(f"  max |w_cohort - w_ddp| = {diff:.3g}", flush=True)
            if a.json:
                os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
                with open(a.json, "w") as f:
                    json.dump(result, f, indent=2)
        dist.destroy_process_group()
        ct.shutdown()
        return result


def plot(files, output):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted((json.load(open(f)) for f in files), key=lambda r: r["ranks"])
    names = [("cohort", "cohort DistributedOptimizer"), ("ddp_gloo", "torch DDP (gloo)"),
             ("compute_only", "compute only (no communication)"),
             ("compute_barrier", "compute + barrier per step")]
    names = [(k, label) for k, label in names if all(k in r["samples_per_s"] for r in results)]
    fig, ax = plt.subplots(figsize=(8, 5))
    width = 0.8 / len(names)
    for i, (key, label) in enumerate(names):
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(results))]
        ys = [r["samples_per_s"][key]["best"] for r in results]
        med = [r["samples_per_s"][key]["median"] for r in results]
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.plot(xs, med, "k_", markersize=12)
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([f"{r['ranks']} ranks\ncohort/gloo = {r['ratio_cohort_over_gloo_best']:.2f}x"
                        f" (medians {r['ratio_cohort_over_gloo']:.2f}x)" for r in results])
    r0 = results[0]
    ax.set_ylabel("samples/s, all ranks (bars: best segment; -: median)")
    ax.set_title(f"examples/train.py CNN ({r0['parameters'] / 1e6:.2f} M params), batch "
                 f"{r0['batch_per_rank']}/rank, {r0['cpus']} CPUs, 1 torch thread/rank")
    ax.margins(y=0.2)
    ax.legend(loc="upper center", ncol=2, fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(output, dpi=110)


def main():
    args = parse_args()
    if args.plot:
        if not args.output:
            sys.exit("--plot needs -o OUTPUT.png")
        plot(args.plot, args.output)
        return 0
    try:
        Bench(args).run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
