#!/usr/bin/env python3
"""PyTorch's optimizers on one flat parameter, the baseline for gpu-optimizer-bench.

    python3 torch_optimizer_bench.py [--json FILE] [--repeats N] [--warmup N] [--sizes 64M,256M,1G]

Same shards and accounting as benchmarks/gpu/optimizer_bench.cc: a shard of S bytes is S/4 f32
elements (1G = 2^28), bytes moved count what the step must read and write once (SGD-momentum 20
per element, AdamW 28), so GB/s is the effective bandwidth even where an implementation moves
more (foreach runs several kernels). Each point is the median of --repeats optimizer.step() calls
timed with torch.cuda.Event after --warmup calls, queued back to back; copy bandwidth is a 256 MiB
device-to-device copy_ counted as read + write. Records: {kernel, dtype, elements, bytes_moved,
time_us, gbps, copy_gbps, ratio_to_copy}, kernel names prefixed "torch.".

Without torch or a CUDA device it prints why and exits 0, so scripts can run it everywhere.
"""
import argparse
import json
import statistics
import sys


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip()
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def median_ms(torch, run, repeats, warmup):
    for _ in range(warmup):
        run()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for start, end in zip(starts, ends):
        start.record()
        run()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def copy_gbps(torch, args):
    n = (256 << 20) // 4
    src = torch.randn(n, device="cuda")
    dst = torch.empty_like(src)
    ms = median_ms(torch, lambda: dst.copy_(src), args.repeats, args.warmup)
    return 2 * n * 4 / (ms * 1e6)


def optimizers(torch):
    """(kernel name, bytes per element, factory) for every optimizer this torch supports."""
    adamw = dict(lr=1e-4, weight_decay=0.01)
    sgd = dict(lr=1e-3, momentum=0.9)
    yield "torch.adamw_fused", 28, lambda p: torch.optim.AdamW([p], fused=True, **adamw)
    yield "torch.adamw_foreach", 28, lambda p: torch.optim.AdamW([p], foreach=True, **adamw)
    yield "torch.sgd_momentum_foreach", 20, lambda p: torch.optim.SGD([p], foreach=True, **sgd)
    yield "torch.sgd_momentum_fused", 20, lambda p: torch.optim.SGD([p], fused=True, **sgd)


def measure(torch, args, name, bytes_per_element, make, elements):
    param = torch.nn.Parameter(torch.randn(elements, device="cuda"))
    param.grad = torch.randn_like(param) * 1e-3
    try:
        optimizer = make(param)
        optimizer.step()  # creates the state outside the timed region
    except (RuntimeError, TypeError, ValueError) as error:  # e.g. fused SGD in an older torch
        print(f"{name}: not available in torch {torch.__version__} ({error})", file=sys.stderr)
        return None
    ms = median_ms(torch, optimizer.step, args.repeats, args.warmup)
    del optimizer, param
    torch.cuda.empty_cache()
    moved = elements * bytes_per_element
    return {"kernel": name, "dtype": "f32", "elements": elements, "bytes_moved": moved,
            "time_us": round(ms * 1e3, 2), "gbps": round(moved / (ms * 1e6), 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the records here")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sizes", default="64M,256M,1G", help="shard sizes in bytes of f32 parameters")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    try:
        import torch
    except ImportError as error:
        print(f"torch_optimizer_bench: skipped, torch is not importable ({error})")
        return 0
    if not torch.cuda.is_available():
        print(f"torch_optimizer_bench: skipped, no CUDA device (torch {torch.__version__}, "
              f"built with CUDA {torch.version.cuda})")
        return 0

    torch.manual_seed(0)
    copy = copy_gbps(torch, args)
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(f"device-to-device copy, 256 MiB: {copy:.1f} GB/s (read + write)")
    print(f"median of {args.repeats} steps after {args.warmup} warm-up\n")
    print(f"{'kernel':<28} {'elements':>11} {'MiB moved':>10} {'time_us':>10} {'GB/s':>8} {'vs copy':>8}")
    records = []
    for size in sizes:
        for name, bytes_per_element, make in optimizers(torch):
            record = measure(torch, args, name, bytes_per_element, make, size // 4)
            if record is None:
                continue
            record["copy_gbps"] = round(copy, 1)
            record["ratio_to_copy"] = round(record["gbps"] / copy, 3)
            records.append(record)
            print(f"{name:<28} {record['elements']:>11} {record['bytes_moved'] / 2**20:>10.1f} "
                  f"{record['time_us']:>10.1f} {record['gbps']:>8.1f} {100 * record['ratio_to_copy']:>7.1f}%",
                  flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(records, out, indent=2)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
