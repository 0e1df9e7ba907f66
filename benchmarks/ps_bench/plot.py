#!/usr/bin/env python3
"""Plots ps-bench results: GB/s per worker of push, pull and push_pull for every server layout,
next to the allreduce of the same bytes measured in the same runs.

Usage: plot.py OUT.png RUN.json [RUN.json ...]   (ps-bench --json files, one per layout and mode)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    out, files = sys.argv[1], sys.argv[2:]
    runs = [json.load(open(f)) for f in files]
    sizes = sorted({r["size"] for run in runs for r in run["rows"]}, key=lambda s: "MiB" in s)
    modes = ["sync", "async"]
    fig, axes = plt.subplots(len(modes), len(sizes), figsize=(6 * len(sizes), 4 * len(modes)), squeeze=False)
    ops = ["push", "pull", "push_pull"]
    for mi, mode in enumerate(modes):
        for si, size in enumerate(sizes):
            ax = axes[mi][si]
            chosen = [run for run in runs if any(r["mode"] == mode and r["size"] == size for r in run["rows"])]
            width = 0.8 / (len(chosen) + 1)
            allreduce = []
            for ci, run in enumerate(chosen):
                rows = {r["op"]: r for r in run["rows"] if r["mode"] == mode and r["size"] == size}
                ax.bar([i + ci * width for i in range(len(ops))], [rows[o]["gbps"] for o in ops], width,
                       label="store, %s servers" % run["servers"])
                allreduce.append(rows["push"]["allreduce_gbps"])
            mean = sum(allreduce) / len(allreduce)
            ax.axhline(mean, color="black", linestyle="--",
                       label="allreduce, same bytes (mean of runs: %.3f GB/s)" % mean)
            ax.set_xticks([i + width * (len(chosen) - 1) / 2 for i in range(len(ops))])
            ax.set_xticklabels(ops)
            ax.set_ylabel("GB/s per worker")
            ax.set_title("%s, %s, %d workers" % (mode, size, chosen[0]["workers"] if chosen else 0))
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
