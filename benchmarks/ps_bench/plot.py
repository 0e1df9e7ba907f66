#!/usr/bin/env python3
"""Plots ps-bench results as speed relative to an allreduce of the same bytes measured in the same
run (allreduce time / store time: above 1 the store is faster), per operation and server layout.
Small keys are compared with one fused allreduce of all their bytes (the stronger peer: the store
sends them as one batched call); the large key with an allreduce of the key.

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
    ops = ["push", "pull", "push_pull"]
    fig, axes = plt.subplots(len(modes), len(sizes), figsize=(6 * len(sizes), 4 * len(modes)), squeeze=False)
    for mi, mode in enumerate(modes):
        for si, size in enumerate(sizes):
            ax = axes[mi][si]
            small = "KiB" in size
            chosen = [run for run in runs if any(r["mode"] == mode and r["size"] == size for r in run["rows"])]
            chosen.sort(key=lambda run: int(run["servers"].split()[0]))
            width = 0.8 / max(len(chosen), 1)
            for ci, run in enumerate(chosen):
                rows = {r["op"]: r for r in run["rows"] if r["mode"] == mode and r["size"] == size}
                key = "fused_allreduce_over_store" if small else "allreduce_over_store"
                ax.bar([i + ci * width for i in range(len(ops))], [rows[o][key] for o in ops], width,
                       label="%s servers" % run["servers"])
            ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
            ax.set_xticks([i + width * (len(chosen) - 1) / 2 for i in range(len(ops))])
            ax.set_xticklabels(ops)
            ax.set_ylabel("allreduce time / store time")
            peer = "one fused allreduce of all keys" if small else "allreduce of the key"
            workers = chosen[0]["workers"] if chosen else 0
            ax.set_title("%s, %s, %d workers (vs %s)" % (mode, size, workers, peer), fontsize=9)
            ax.legend(fontsize=7)
    fig.suptitle("ps-bench: speed relative to allreduce of the same bytes (above 1: store faster)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
