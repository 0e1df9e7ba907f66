#!/usr/bin/env python3
"""Tuning run of the collective selector: writes collectives/tuned_rules.inc from measurement.

For every collective, world size and place (arena: every rank on this host with the shared-memory
arena; links: messages over tcp), it runs cohort-bench once per candidate algorithm
(COHORT_ALGO forces it), over sizes 8 B .. --max-bytes, in --rounds interleaved rounds, and
keeps per size the algorithm with the lowest time (out of place and in place averaged; the
minimum over rounds, which is the least disturbed by a noisy neighbour). Runs of equal winners
become one rule; a boundary falls halfway (geometrically) between the two measured sizes.

    python3 benchmarks/tune_selector.py --build build --out-dir benchmarks/results/DATE-tuning
    # or re-measure one collective, keeping an earlier run's rows for the others:
    python3 benchmarks/tune_selector.py ... --only arena:allreduce --merge OLD/tuning.json
    # then rebuild: the table is compiled into the selector

The raw rows go to OUT_DIR/tuning.json with the command line; the table's header names both.
"""
import argparse
import datetime
import json
import math
import os
import subprocess
import sys

# Candidates per collective and place; a forced name that does not apply falls back to the
# automatic choice, so each row records the algorithm that really ran.
CANDIDATES = {
    "arena": {
        "allreduce": ["shm_express", "shm_oneshot", "shm_direct"],
        "reduce_scatter": ["shm_express", "shm_direct"],
        "allgather": ["shm_express", "shm_direct"],
        "broadcast": ["shm_express", "shm_direct"],
        "reduce": ["shm_express", "shm_direct"],
        "alltoall": ["shm_express", "shm_direct"],
    },
    "links": {
        "allreduce": ["recursive_doubling", "rabenseifner", "ring"],
        "reduce_scatter": ["recursive_halving", "ring"],
        "allgather": ["recursive_doubling", "ring"],
    },
}
ELEMENT_BYTES = 4  # the tuning runs use f32
KIND = {"allreduce": "kAllreduce", "reduce_scatter": "kReduceScatter", "allgather": "kAllgather",
        "broadcast": "kBroadcast", "reduce": "kReduce", "alltoall": "kAlltoall"}


def run_bench(args, place, collective, nranks, algorithm, lo, hi, iters, json_path):
    env = ["-x", "COHORT_ALGO=" + algorithm]
    if place == "links":
        env += ["-x", "COHORT_TRANSPORT=tcp"]
    cmd = [os.path.join(args.build, "launcher", "cohortrun"), "-np", str(nranks), "--timeout", "600",
           *env, os.path.join(args.build, "benchmarks", "cohort-bench"), collective,
           "-b", str(lo), "-e", str(hi), "-f", "4", "-n", str(iters), "-w", str(max(2, iters // 10)),
           "-c", "0", "--json", json_path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(json_path) as f:
        return json.load(f)["rows"]


def measure(args):
    rows = []  # (place, collective, nranks, count_bytes, algorithm, time_us, round)
    tmp = os.path.join(args.out_dir, "last-run.json")
    for rnd in range(args.rounds):
        for place, collectives in CANDIDATES.items():
            for collective, algorithms in collectives.items():
                if args.only and f"{place}:{collective}" not in args.only:
                    continue
                for nranks in args.ranks:
                    for algorithm in algorithms:
                        # Small sizes get many iterations, large ones few.
                        for lo, hi, iters in ((8, 64 << 10, args.small_iters),
                                              (256 << 10, args.max_bytes, args.large_iters)):
                            for r in run_bench(args, place, collective, nranks, algorithm, lo, hi,
                                               iters, tmp):
                                if r["count"] == 0:
                                    continue
                                t = (r["oop"]["time_us"] + r["ip"]["time_us"]) / 2
                                rows.append({"place": place, "collective": collective,
                                             "ranks": nranks, "bytes": r["count"] * ELEMENT_BYTES,
                                             "forced": algorithm, "algorithm": r["algorithm"],
                                             "time_us": t, "round": rnd})
                        print(f"round {rnd} {place} {collective} np{nranks} {algorithm}",
                              file=sys.stderr, flush=True)
    os.remove(tmp)
    return rows


def winners(rows, margin):
    """{(place, collective, ranks): [(bytes, algorithm), ...] ascending}.

    Per size the fastest algorithm, except that the previous size's winner keeps the size while
    it is within `margin` of the fastest: equal algorithms would otherwise trade places with the
    noise from size to size."""
    best = {}  # (place, coll, ranks) -> size -> algorithm -> min time
    for r in rows:
        times = best.setdefault((r["place"], r["collective"], r["ranks"]), {}).setdefault(r["bytes"], {})
        times[r["algorithm"]] = min(times.get(r["algorithm"], math.inf), r["time_us"])
    table = {}
    for key, sizes in best.items():
        chosen, current = [], None
        for size in sorted(sizes):
            times = sizes[size]
            fastest = min(times, key=times.get)
            if current not in times or times[current] > times[fastest] * (1 + margin):
                current = fastest
            chosen.append((size, current))
        table[key] = chosen
    return table


def rules(table):
    lines = []
    for (place, coll, ranks), sizes in sorted(table.items()):
        runs = []  # [algorithm, last size]
        for size, alg in sizes:
            if runs and runs[-1][0] == alg:
                runs[-1][1] = size
            else:
                runs.append([alg, size])
        for i, (alg, last) in enumerate(runs):
            if i + 1 < len(runs):
                nxt = next(s for s, _ in sizes if s > last)
                bound = f"{int(math.sqrt(last * nxt))}"
            else:
                bound = "kAnyBytes"
            where = "Where::kArena" if place == "arena" else "Where::kLinks"
            lines.append(f'    {{K::{KIND[coll]}, {where}, {ranks}, {ranks}, {bound}, "{alg}"}},')
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--max-bytes", type=int, default=64 << 20)
    p.add_argument("--small-iters", type=int, default=300)
    p.add_argument("--large-iters", type=int, default=8)
    p.add_argument("--margin", type=float, default=0.08,
                   help="a new winner must beat the previous size's by this fraction")
    p.add_argument("--from-json", help="recompute the table from an earlier run's tuning.json")
    p.add_argument("--only", nargs="+", metavar="PLACE:COLLECTIVE",
                   help="measure only these (e.g. arena:allreduce); with --merge, the rest of the "
                        "table keeps an earlier run's rows")
    p.add_argument("--merge", metavar="TUNING_JSON",
                   help="an earlier run's tuning.json whose rows for everything not measured now "
                        "are kept (the new tuning.json holds both, and both commands)")
    p.add_argument("--table", default=os.path.join(os.path.dirname(__file__), "..", "collectives",
                                                     "tuned_rules.inc"))
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    command = " ".join(["python3", "benchmarks/tune_selector.py"] + sys.argv[1:])
    if args.from_json:
        with open(args.from_json) as f:
            run = json.load(f)
        rows, command = run["rows"], run["command"] + f"  (table: --margin {args.margin})"
    else:
        rows = measure(args)
        if args.merge:
            with open(args.merge) as f:
                earlier = json.load(f)
            fresh = {(r["place"], r["collective"]) for r in rows}
            rows += [r for r in earlier["rows"] if (r["place"], r["collective"]) not in fresh]
            command += f"  (other rows from: {earlier['command']})"
        with open(os.path.join(args.out_dir, "tuning.json"), "w") as f:
            json.dump({"command": command, "date": datetime.date.today().isoformat(), "rows": rows},
                      f, indent=1)
    lines = rules(winners(rows, args.margin))
    with open(args.table, "w") as f:
        f.write("// Generated by benchmarks/tune_selector.py; do not edit. Measured on "
                f"{datetime.date.today().isoformat()} by\n//   {command}\n"
                f"// (raw rows: {os.path.join(args.out_dir, 'tuning.json')}). Rules are for exactly "
                "the world sizes measured;\n// other sizes fall through to the defaults in "
                "selector.cc.\n")
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
