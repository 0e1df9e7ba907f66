#!/usr/bin/env python3
"""Merges the GPU benchmark JSON files of one tests/gpu/run.sh run into a Markdown report.

Usage: report.py OUTDIR   (prints Markdown; writes OUTDIR/kernels.csv and OUTDIR/kernels.png)

Ours and PyTorch's records come from separate programs run back to back on the same device in
the same run; they are paired by kernel name ("torch.<name>", or the optimizer mapping below),
dtype and size. Ratios, not absolute times, are what to compare across runs.
"""
import csv
import json
import os
import sys

# Our optimizer kernels and the PyTorch implementation each is measured against.
TORCH_PEER = {"adamw": ["torch.adamw_fused", "torch.adamw_foreach"],
              "sgd_momentum": ["torch.sgd_momentum_fused", "torch.sgd_momentum_foreach"]}
BANDWIDTH_MIN_BYTES = 64 << 20


def load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict) and "kernel" in r] if isinstance(data, list) else []


def size_of(r):
    return r.get("shard_bytes", r.get("elements", 0) * 4)


def human(nbytes):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes} B"


def main(out):
    ours, torch = [], []
    for name in ("multi_tensor.json", "optimizer.json"):
        ours += load(os.path.join(out, name))
    for name in ("torch_multi_tensor.json", "torch_optimizer.json"):
        torch += load(os.path.join(out, name))
    if not ours:
        print("\nNo kernel benchmark results found.")
        return 0
    peers = {(r["kernel"], r.get("dtype"), size_of(r)): r for r in torch}

    def peer_of(r):
        for name in ["torch." + r["kernel"]] + TORCH_PEER.get(r["kernel"], []):
            for dtype in (r.get("dtype"), "f32"):
                hit = peers.get((name, dtype, size_of(r)))
                if hit:
                    return hit
        return None

    rows = []
    for r in ours:
        if r["kernel"] == "memcpy_d2d":
            continue
        p = peer_of(r)
        rows.append({
            "kernel": r["kernel"], "dtype": r.get("dtype", ""), "size": human(size_of(r)),
            "size_bytes": size_of(r), "tensors": r.get("tensors", 1),
            "time_us": r["time_us"], "gbps": r.get("gbps", 0.0),
            "ratio_to_copy": r.get("ratio_to_copy", 0.0), "speedup_vs_loop": r.get("speedup", 0.0),
            "torch_kernel": p["kernel"] if p else "", "torch_time_us": p["time_us"] if p else "",
            "torch_over_ours": (p["time_us"] / r["time_us"]) if p and r["time_us"] else ""})
    copy = next((r for r in ours if r["kernel"] == "memcpy_d2d"), None)
    print("\n## Fused kernels (ours vs device copy and PyTorch, same run)\n")
    if copy:
        print(f"Device-to-device copy: {copy.get('gbps', 0):.0f} GB/s (bytes read + written).\n")
    print("| kernel | dtype | size | tensors | time (us) | GB/s | x copy bw | PyTorch peer | PyTorch time (us) | PyTorch time / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t = f"{r['torch_time_us']:.1f}" if r["torch_time_us"] != "" else "-"
        x = f"{r['torch_over_ours']:.2f}" if r["torch_over_ours"] != "" else "-"
        print(f"| {r['kernel']} | {r['dtype']} | {r['size']} | {r['tensors']} | {r['time_us']:.1f} | "
              f"{r['gbps']:.0f} | {r['ratio_to_copy']:.2f} | {r['torch_kernel'] or '-'} | {t} | {x} |")

    print("\n### Targets\n")
    bw = [r for r in rows if r["size_bytes"] >= BANDWIDTH_MIN_BYTES and r["tensors"] == 1
          and r["ratio_to_copy"]]
    low = [r for r in bw if r["ratio_to_copy"] < 0.8]
    print(f"- bandwidth-bound kernels at >= 64 MiB reaching 80% of copy bandwidth: "
          f"{len(bw) - len(low)} of {len(bw)}" +
          ("" if not low else " (below: " + ", ".join(
              f"{r['kernel']} {r['dtype']} {r['size']} {r['ratio_to_copy']:.2f}" for r in low) + ")"))
    adamw = [r for r in rows if r["kernel"] == "adamw" and r["dtype"].startswith("f32")
             and r["size_bytes"] >= (1 << 30) and r["torch_kernel"] == "torch.adamw_fused"]
    for r in adamw:
        print(f"- AdamW over a {r['size']} shard: {r['time_us']:.0f} us vs torch fused "
              f"{r['torch_time_us']:.0f} us: {'met' if r['torch_over_ours'] >= 1 else 'NOT met'} "
              f"({r['torch_over_ours']:.2f}x)")
    for r in rows:
        if r["kernel"].startswith("pack_tensors") and r["speedup_vs_loop"]:
            print(f"- {r['kernel']} ({r['tensors']} tensors, {r['size']}): {r['speedup_vs_loop']:.1f}x a "
                  f"loop of per-tensor copies: {'met' if r['speedup_vs_loop'] >= 5 else 'NOT met'}")

    with open(os.path.join(out, "kernels.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    plot(out, [r for r in bw])
    return 0


def plot(out, rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    labels = [f"{r['kernel']}\n{r['dtype']} {r['size']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(rows)), 5))
    ax.bar(range(len(rows)), [r["ratio_to_copy"] for r in rows], color="tab:blue", label="cohort")
    ax.axhline(0.8, color="tab:red", linestyle="--", label="target 0.8 x copy")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=70, fontsize=7)
    ax.set_ylabel("achieved / device copy bandwidth")
    ax.set_title("cohort fused CUDA kernels vs device-to-device copy (same run)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "kernels.png"), dpi=120)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
