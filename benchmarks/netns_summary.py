#!/usr/bin/python3
"""Summary of benchmarks/netns_bench.sh's results.csv: medians per system, collective and
stream count, each as a ratio to raw TCP with one stream, as Markdown and as a bar plot.

    netns_summary.py results.csv summary.md results.png
"""
import csv
import statistics
from collections import defaultdict

import summary_cli


def main(csv_path, md_path, png_path):
    runs = defaultdict(list)
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            runs[(row["system"], row["collective"], int(row["streams"]))].append(float(row["GBps"]))
    medians = {k: statistics.median(v) for k, v in runs.items()}
    base = medians.get(("raw-tcp", "one-way", 1))
    lines = ["| what | GB/s (median) | runs | vs raw TCP one-way, 1 stream |", "|---|---|---|---|"]
    labels = []
    # Raw TCP first (one way, then both ways), then each collective with its systems together.
    for key in sorted(medians, key=lambda k: (k[0] != "raw-tcp", k[1] != "one-way", k[1], k[0], k[2])):
        system, collective, streams = key
        label = (f"raw TCP {collective}, {streams} stream{'s' if streams > 1 else ''}"
                 + (" (per direction)" if collective == "both-ways" else "")
                 if system == "raw-tcp" else f"{system} {collective} 64 MiB (busbw)"
                 + (f", {streams} tcp streams" if streams > 1 else ""))
        ratio = f"{medians[key] / base:.2f}x" if base else "-"
        lines.append(f"| {label} | {medians[key]:.2f} | {len(runs[key])} | {ratio} |")
        labels.append((label, medians[key]))
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plt = summary_cli.pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    bars = ax.barh([l for l, _ in labels], [v for _, v in labels])
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("GB/s (1e9 bytes/s), median of the rounds")
    ax.set_title("Two network namespaces: raw TCP and 64 MiB collectives (1 rank per namespace, 2 in 2x2)",
                 fontsize=10)
    ax.margins(x=0.15)
    summary_cli.save(fig, png_path)


if __name__ == "__main__":
    summary_cli.run(main, __doc__)
