#!/usr/bin/python3
"""Plots busbw against message size for cohort-bench --json files (one line per file).

    plot_busbw.py results/*.json -o busbw.png
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", help="cohort-bench --json outputs")
    parser.add_argument("-o", "--output", required=True, help="PNG to write")
    parser.add_argument("--placement", choices=["oop", "ip"], default="oop",
                        help="out-of-place (default) or in-place columns")
    args = parser.parse_args()

    fig, ax = plt.subplots(figsize=(8, 5))
    for path in args.files:
        with open(path) as f:
            data = json.load(f)
        rows = data["rows"]
        sizes = [row["size"] for row in rows]
        busbw = [row[args.placement]["busbw"] for row in rows]
        label = os.path.splitext(os.path.basename(path))[0]
        ax.plot(sizes, busbw, marker="o", label=f"{label} (avg {data.get('avg_busbw', 0):.2f})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("busbw (GB/s, nccl-tests definition)")
    ax.set_title(f"cohort-bench, {'out-of-place' if args.placement == 'oop' else 'in-place'}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)


if __name__ == "__main__":
    main()
