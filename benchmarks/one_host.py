#!/usr/bin/env python3
"""One host: cohort, Open MPI (three configurations) and Gloo (two allreduce algorithms) side by
side, through the same harness (cohort-bench and its --baseline backends), with the memory
bandwidth ceiling measured in the same run (cohort-membw).

For each world size, every round runs every system once over 8 B .. --max-bytes (factor 2; a
small-size sweep with many iterations and a large-size sweep with few), in an order that rotates
between rounds; the report takes, per system and size, the median over rounds of cohort-bench's
per-iteration average. Writes:
  OUT.csv            system, ranks, bytes, median/min/max time (us) and busbw (GB/s), out of
                     place and in place; rows with system "ceiling" carry the memory reference
  OUT.png            busbw against size (one line per system, the ceiling dashed) and, below,
                     latency against size up to 64 KiB, per world size
  OUT.md             the table at 8 B, 512 KiB, 8 MiB, 64 MiB and 256 MiB with ratios
  OUT.command.txt    how it was made
    python3 benchmarks/one_host.py --build build --out benchmarks/results/cpu-one-host
    python3 benchmarks/one_host.py --build build --out /tmp/x/one-host --quick   # CI: checked
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys

# Every system: the launcher it needs and its extra arguments.
MPI_ROOT = ["--allow-run-as-root"] if os.geteuid() == 0 else []
MALLOC_TUNED = ["-x", "MALLOC_MMAP_THRESHOLD_=33554432", "-x", "MALLOC_TRIM_THRESHOLD_=17179869184",
                "-x", "MALLOC_TOP_PAD_=1073741824"]
UCX = ["--mca", "pml", "ucx", "--mca", "pml_ucx_tls", "any", "--mca", "pml_ucx_devices", "any",
       "-x", "UCX_TLS=posix,sysv,cma,self"]
SYSTEMS = {
    "cohort": ("cohortrun", [], []),
    "openmpi": ("mpirun", [], ["--baseline", "mpi"]),
    "openmpi-malloc-tuned": ("mpirun", MALLOC_TUNED, ["--baseline", "mpi"]),
    "openmpi-ucx": ("mpirun", UCX, ["--baseline", "mpi"]),
    "gloo-ring": ("cohortrun", [], ["--baseline", "gloo-ring"]),
    "gloo-hd": ("cohortrun", [], ["--baseline", "gloo-hd"]),
}
REPORT_SIZES = [8, 512 << 10, 8 << 20, 64 << 20, 256 << 20]


def launcher(args, kind, nranks, extra):
    if kind == "cohortrun":
        return [os.path.join(args.build, "launcher", "cohortrun"), "-np", str(nranks),
                "--timeout", "1200", *extra]
    return ["mpirun", *MPI_ROOT, "--oversubscribe", "-np", str(nranks), *extra]


def bench(args, system, nranks, lo, hi, iters, warmup, out_json):
    kind, launch_extra, bench_extra = SYSTEMS[system]
    cmd = [*launcher(args, kind, nranks, launch_extra),
           os.path.join(args.build, "benchmarks", "cohort-bench"), "allreduce",
           "-b", str(lo), "-e", str(hi), "-f", "2", "-n", str(iters), "-w", str(warmup),
           "-c", "1" if args.check else "0", "--json", out_json, *bench_extra]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:])
        raise SystemExit(f"one_host: {system} with {nranks} ranks failed: {' '.join(cmd)}")
    with open(out_json) as f:
        rows = json.load(f)["rows"]
    if args.check:
        wrong = sum((r[p] or {}).get("wrong") or 0 for r in rows for p in ("oop", "ip"))
        if wrong:
            raise SystemExit(f"one_host: {system} with {nranks} ranks: {wrong} wrong elements")
    return rows, " ".join(cmd)


def membw(args, nranks, out_json):
    cmd = [os.path.join(args.build, "benchmarks", "cohort-membw"), "--procs", str(nranks),
           "--mib", str(args.membw_mib), "--seconds", str(args.membw_seconds), "--json", out_json]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f), " ".join(cmd)


def measure(args, systems):
    samples = {}   # (system, ranks, bytes) -> {"oop": [...], "ip": [...], "t_oop": [...]}
    ceilings = {}  # ranks -> [busbw ceiling per round]
    commands = set()
    tmp = args.out + ".last.json"
    # (first size run, first size kept, last size, iterations, warm-up): each sweep's first
    # size is measured and dropped, because the first size of a run comes out slow. A call of
    # 128 KiB takes under 10 us, so 10 timed iterations there measure one descheduling rather
    # than the collective: the middle sizes get their own sweep with enough iterations.
    sweeps = [(4, 8, 64 << 10, args.small_iters, max(10, args.small_iters // 10)),
              (64 << 10, 128 << 10, 8 << 20, args.middle_iters, max(2, args.middle_iters // 10)),
              (8 << 20, 16 << 20, args.max_bytes, args.large_iters, 2)]
    for nranks in args.ranks:
        for rnd in range(args.rounds):
            ref, cmd = membw(args, nranks, tmp)
            commands.add(cmd)
            ceilings.setdefault(nranks, []).append(ref["allreduce_busbw_ceiling"])
            order = systems[rnd % len(systems):] + systems[:rnd % len(systems)]
            for system in order:
                for lo, keep, hi, iters, warmup in sweeps:
                    if keep > args.max_bytes:
                        continue
                    rows, cmd = bench(args, system, nranks, lo, min(hi, args.max_bytes), iters,
                                      warmup, tmp)
                    commands.add(cmd)
                    for r in rows:
                        if r["size"] < keep or r["size"] > hi:
                            continue
                        s = samples.setdefault((system, nranks, r["size"]), {"oop": [], "ip": [],
                                                                             "t_oop": []})
                        for p in ("oop", "ip"):
                            if r[p] is not None:
                                s[p].append(r[p]["busbw"])
                        if r["oop"] is not None:
                            s["t_oop"].append(r["oop"]["time_us"])
                print(f"ranks {nranks} round {rnd}: {system} done", file=sys.stderr, flush=True)
    os.remove(tmp)
    return samples, ceilings, sorted(commands)


def write_csv(args, samples, ceilings):
    path = args.out + ".csv"
    med = lambda xs: statistics.median(xs) if xs else ""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["system", "ranks", "bytes", "rounds", "time_us_oop_median", "time_us_oop_min",
                    "time_us_oop_max", "busbw_oop_median", "busbw_ip_median", "busbw_oop_min",
                    "busbw_oop_max"])
        for (system, ranks, size), s in sorted(samples.items()):
            w.writerow([system, ranks, size, len(s["t_oop"]), med(s["t_oop"]),
                        min(s["t_oop"], default=""), max(s["t_oop"], default=""), med(s["oop"]),
                        med(s["ip"]), min(s["oop"], default=""), max(s["oop"], default="")])
        for ranks, values in sorted(ceilings.items()):
            w.writerow(["ceiling", ranks, "", len(values), "", "", "", med(values), med(values),
                        min(values), max(values)])
    return path


def median_of(samples, system, ranks, size, key):
    s = samples.get((system, ranks, size))
    return statistics.median(s[key]) if s and s[key] else None


def write_report(args, samples, ceilings, commands):
    """Small sizes: time per call (lower is better); large sizes: out-of-place busbw."""
    lines = ["# One host: allreduce f32 sum, medians over rounds", "",
             f"Made by `{' '.join(['python3', 'benchmarks/one_host.py'] + sys.argv[1:])}`.", ""]
    for ranks in args.ranks:
        ceiling = statistics.median(ceilings[ranks])
        lines += [f"## {ranks} ranks (memory ceiling from cohort-membw: busbw {ceiling:.2f} GB/s)",
                  "", "| size | cohort | best Open MPI | default Open MPI | best Gloo | vs best MPI "
                  "| vs default MPI | vs best Gloo |", "|---|---|---|---|---|---|---|---|"]
        for size in REPORT_SIZES:
            latency = size < 64 << 10
            key = "t_oop" if latency else "oop"
            unit = "us" if latency else "GB/s"
            value = lambda system: median_of(samples, system, ranks, size, key)
            c = value("cohort")
            if c is None:
                continue
            pick = min if latency else max
            mpis = [(value(s), s) for s in SYSTEMS if s.startswith("openmpi") and value(s)]
            gloos = [(value(s), s) for s in SYSTEMS if s.startswith("gloo") and value(s)]
            best_mpi = pick(mpis) if mpis else (None, "")
            best_gloo = pick(gloos) if gloos else (None, "")
            default_mpi = value("openmpi")
            # Ratios > 1 mean cohort is better (faster, or more bandwidth).
            ratio = lambda other: ("n/a" if other is None else
                                   f"{(other / c if latency else c / other):.2f}x")
            show = lambda v, who="": "n/a" if v is None else f"{v:.2f}" + (f" ({who})" if who else "")
            label = (f"{size} B" if size < 1 << 10 else f"{size >> 10} KiB" if size < 1 << 20
                     else f"{size >> 20} MiB")
            lines.append(f"| {label} | {c:.2f} {unit} | {show(*best_mpi)} | {show(default_mpi)} | "
                         f"{show(*best_gloo)} | {ratio(best_mpi[0])} | {ratio(default_mpi)} | "
                         f"{ratio(best_gloo[0])} |")
        lines.append("")
    lines += ["Sizes below 64 KiB: time per call in us; larger: out-of-place busbw in GB/s. Ratios "
              "above 1 mean cohort is better.", "", "Commands (each run once per round):", ""]
    lines += [f"    {c}" for c in commands]
    path = args.out + ".md"
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".command.txt", "w") as f:
        f.write(" ".join(["python3", "benchmarks/one_host.py"] + sys.argv[1:]) + "\n")
    return path


def plot(args, samples, ceilings):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("one_host: matplotlib missing (apt-get install python3-matplotlib); no plot",
              file=sys.stderr)
        return None
    fig, axes = plt.subplots(2, len(args.ranks), figsize=(7 * len(args.ranks), 9), squeeze=False)
    for col, ranks in enumerate(args.ranks):
        top, bottom = axes[0][col], axes[1][col]
        for system in SYSTEMS:
            pts = sorted((b, statistics.median(s["oop"]), statistics.median(s["t_oop"]))
                         for (sys_, r, b), s in samples.items()
                         if sys_ == system and r == ranks and s["oop"] and s["t_oop"])
            if not pts:
                continue
            style = dict(marker="o", markersize=3, linewidth=2.5 if system == "cohort" else 1.2)
            top.plot([p[0] for p in pts], [p[1] for p in pts], label=system, **style)
            small = [p for p in pts if p[0] <= 64 << 10]
            bottom.plot([p[0] for p in small], [p[2] for p in small], label=system, **style)
        top.axhline(statistics.median(ceilings[ranks]), color="black", linestyle="--",
                    label="memory ceiling (cohort-membw)")
        top.set_xscale("log", base=2)
        top.set_title(f"allreduce f32, {ranks} ranks on one host: bus bandwidth")
        top.set_xlabel("message size (bytes)")
        top.set_ylabel("busbw (GB/s), median over rounds")
        top.grid(True, alpha=0.3)
        top.legend(fontsize=8)
        bottom.set_xscale("log", base=2)
        bottom.set_yscale("log")
        bottom.set_title(f"{ranks} ranks: latency up to 64 KiB")
        bottom.set_xlabel("message size (bytes)")
        bottom.set_ylabel("time per call (us), median over rounds")
        bottom.grid(True, alpha=0.3, which="both")
    fig.tight_layout()
    path = args.out + ".png"
    fig.savefig(path, dpi=110)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--out", required=True, help="path prefix: PREFIX.csv, .png, .md, .command.txt")
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-bytes", type=int, default=256 << 20)
    p.add_argument("--small-iters", type=int, default=2000)
    p.add_argument("--middle-iters", type=int, default=200, help="128 KiB .. 8 MiB")
    p.add_argument("--large-iters", type=int, default=10, help="16 MiB and above")
    p.add_argument("--membw-mib", type=int, default=256)
    p.add_argument("--membw-seconds", type=float, default=2.0)
    p.add_argument("--check", action="store_true", help="check every element (-c 1)")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS))
    p.add_argument("--quick", action="store_true",
                   help="CI: 2 ranks, 8 B .. 1 MiB, few iterations, one round, checked")
    args = p.parse_args()
    if args.quick:
        args.ranks, args.rounds, args.max_bytes = [2], 1, 1 << 20
        args.small_iters, args.middle_iters, args.large_iters, args.check = 20, 5, 3, True
        args.membw_mib, args.membw_seconds = 16, 0.2
    systems = [s for s in args.systems if s in SYSTEMS]
    if not shutil.which("mpirun"):
        systems = [s for s in systems if not s.startswith("openmpi")]
        print("one_host: no mpirun; Open MPI left out", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    samples, ceilings, commands = measure(args, systems)
    print(write_csv(args, samples, ceilings))
    print(write_report(args, samples, ceilings, commands))
    png = plot(args, samples, ceilings)
    if png:
        print(png)


if __name__ == "__main__":
    main()
