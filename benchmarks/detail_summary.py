#!/usr/bin/python3
"""Summary of benchmarks/detail_overhead.sh's results.csv: per transport and size, the median
in-place allreduce time without and with COHORT_DEBUG=DETAIL and their ratio, as Markdown and a
plot.

    detail_summary.py results.csv summary.md overhead.png
"""
import csv
import statistics
from collections import defaultdict

import summary_cli


def main(csv_path, md_path, png_path):
    times = defaultdict(list)
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            times[(row["transport"], int(row["bytes"]), row["detail"])].append(float(row["time_us"]))
    keys = sorted({(t, b) for t, b, _ in times})
    lines = ["| transport | bytes | time off (us) | time DETAIL (us) | DETAIL / off | rounds |",
             "|---|---|---|---|---|---|"]
    series = defaultdict(list)
    for transport, size in keys:
        off = statistics.median(times[(transport, size, "off")])
        on = statistics.median(times[(transport, size, "on")])
        lines.append(f"| {transport} | {size} | {off:.1f} | {on:.1f} | {on / off:.2f}x | "
                     f"{len(times[(transport, size, 'off')])} |")
        series[transport].append((size, on / off))
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plt = summary_cli.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for transport, points in series.items():
        ax.plot([s for s, _ in points], [r for _, r in points], marker="o", label=transport)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("allreduce bytes (4 ranks, in place)")
    ax.set_ylabel("time with DETAIL / time without (median)")
    ax.set_title("Cost of COHORT_DEBUG=DETAIL's fingerprint check", fontsize=10)
    ax.legend()
    summary_cli.save(fig, png_path)


if __name__ == "__main__":
    summary_cli.run(main, __doc__)
