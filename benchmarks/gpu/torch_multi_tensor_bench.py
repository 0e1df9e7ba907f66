#!/usr/bin/env python3
"""PyTorch's equivalents of gpu-multi-tensor-bench (benchmarks/gpu/multi_tensor_bench.cc).

    python3 torch_multi_tensor_bench.py [--json FILE] [--repeats N] [--warmup N] [--quick]

Same sizes, same timing method and the same JSON record keys as the C++ benchmark, kernel
names prefixed "torch.", so the two merge into one table:
  - torch.memcpy_d2d     dst.copy_(src), uint8, 256 and 64 MiB (the copy reference)
  - torch.pack           torch.cat([t], out=buf)                       f32->f32
  - torch.pack_scale     torch.mul(t, 0.5, out=buf_bf16) (one kernel)  f32->bf16
  - torch.unpack         t_f32.copy_(buf_bf16)                         bf16->f32
  - torch.reduce_sum_kK  torch.sum(torch.stack(srcs), 0, out=dst)      (stack materialises k inputs)
  - torch.reduce_sum_kK_addchain   torch.add(s0, s1, out=dst); dst.add_(s_j) ...
  - torch.l2_norm        torch.linalg.vector_norm(t)
  - 1,000 tensors (the C++ bench's size mix, same integer generator): torch.pack_tensors
    (torch.cat(list, out=flat)), torch.unpack_tensors (torch._foreach_copy_ into
    torch.split(flat) views), torch.memcpy_loop (one view.copy_(t) per tensor),
    torch.l2_norm_tensors (torch._foreach_norm, then the norm of the norms).
Bytes count reads plus writes of the ideal operation (extra traffic such as torch.stack's copy
is not counted, so it shows as lower GB/s). Each repeat is timed with torch.cuda.Event; the
median after warm-up is reported; repeats rotate over two buffer sets larger than L2.
Without CUDA (or without torch) it prints why and exits 0.
"""
import argparse
import json
import statistics
import sys
import time

MIB = 1 << 20


def tensor_mix(tensors, total):
    """The 1,000-tensor size mix of multi_tensor_bench_util.h (TensorMix), bit for bit."""
    mask = (1 << 64) - 1
    state = 4096

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    raw = []
    for _ in range(tensors):
        e = 8 + nxt() % 13
        raw.append((1 << e) + nxt() % (1 << e))
    total_raw = sum(raw)
    counts = [max(1, r * total // total_raw) for r in raw]
    counts[-1] += total - sum(counts)
    return counts


class Bench:
    def __init__(self, torch, args):
        self.torch = torch
        self.args = args
        self.records = []

    def median_us(self, run, synced=False):
        """Median event time (us) of run(i), and the median host time when synced."""
        torch = self.torch
        for i in range(self.args.warmup):
            run(i)
        torch.cuda.synchronize()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(self.args.repeats)]
        stops = [torch.cuda.Event(enable_timing=True) for _ in range(self.args.repeats)]
        host = []
        for i in range(self.args.repeats):
            if synced:
                torch.cuda.synchronize()
            begin = time.perf_counter()
            starts[i].record()
            run(self.args.warmup + i)
            stops[i].record()
            if synced:
                torch.cuda.synchronize()
            host.append((time.perf_counter() - begin) * 1e6)
        torch.cuda.synchronize()
        times = [1000.0 * start.elapsed_time(stop) for start, stop in zip(starts, stops)]
        return statistics.median(times), statistics.median(host)

    def add(self, kernel, dtype, shard_bytes, nbytes, time_us, tensors=1, k=0, host_us=0.0):
        self.records.append(dict(kernel="torch." + kernel, dtype=dtype, shard_bytes=shard_bytes,
                                 bytes=nbytes, tensors=tensors, k=k, time_us=time_us,
                                 host_us=host_us, speedup=0.0, repeats=self.args.repeats))

    def rand(self, nbytes, dtype):
        torch = self.torch
        count = nbytes // torch.tensor([], dtype=dtype).element_size()
        return torch.rand(count, device="cuda", dtype=torch.float32).to(dtype)


def run_all(torch, args):
    b = Bench(torch, args)
    f32, bf16, u8 = torch.float32, torch.bfloat16, torch.uint8
    sets = range(2)
    for shard in (256 * MIB, 64 * MIB):
        src = [torch.empty(shard, dtype=u8, device="cuda").fill_(7) for _ in sets]
        dst = [torch.empty(shard, dtype=u8, device="cuda") for _ in sets]
        t, _ = b.median_us(lambda i: dst[i % 2].copy_(src[i % 2]))
        b.add("memcpy_d2d", "u8", shard, 2 * shard, t)
        del src, dst
    shards = [64 * MIB] if args.quick else [64 * MIB, 256 * MIB]
    for shard in shards:
        n = shard // 4
        src = [b.rand(shard, f32) for _ in sets]
        out = [torch.empty(n, dtype=f32, device="cuda") for _ in sets]
        t, _ = b.median_us(lambda i: torch.cat([src[i % 2]], out=out[i % 2]))
        b.add("pack", "f32->f32", shard, 2 * shard, t)
        out = [torch.empty(n, dtype=bf16, device="cuda") for _ in sets]
        t, _ = b.median_us(lambda i: torch.mul(src[i % 2], 0.5, out=out[i % 2]))
        b.add("pack_scale", "f32->bf16", shard, shard + shard // 2, t)
        del src, out
        src = [b.rand(shard, bf16) for _ in sets]
        out = [torch.empty(shard // 2, dtype=f32, device="cuda") for _ in sets]
        t, _ = b.median_us(lambda i: out[i % 2].copy_(src[i % 2]))
        b.add("unpack", "bf16->f32", shard, 3 * shard, t)
        del src, out
        for dtype, name in ((f32, "f32"), (bf16, "bf16")):
            for k in (2, 4, 8):
                srcs = [[b.rand(shard, dtype) for _ in range(k)] for _ in sets]
                dst = [torch.empty_like(srcs[s][0]) for s in sets]
                t, _ = b.median_us(lambda i: torch.sum(torch.stack(srcs[i % 2]), 0, out=dst[i % 2]))
                b.add(f"reduce_sum_k{k}", name, shard, (k + 1) * shard, t, k=k)

                def chain(i):
                    s = srcs[i % 2]
                    torch.add(s[0], s[1], out=dst[i % 2])
                    for x in s[2:]:
                        dst[i % 2].add_(x)
                t, _ = b.median_us(chain)
                b.add(f"reduce_sum_k{k}_addchain", name, shard, (k + 1) * shard, t, k=k)
                del srcs, dst
        for dtype, name in ((f32, "f32"), (bf16, "bf16")):
            data = [b.rand(shard, dtype) for _ in sets]
            t, _ = b.median_us(lambda i: torch.linalg.vector_norm(data[i % 2]))
            b.add("l2_norm", name + " (f32 acc)", shard, shard, t)
            del data

    counts = tensor_mix(1000, 64 * MIB // 4)
    total = sum(counts)
    tensors = [[torch.rand(c, device="cuda") for c in counts] for _ in sets]
    flats = [torch.empty(total, device="cuda") for _ in sets]
    views = [list(torch.split(flats[s], counts)) for s in sets]
    nbytes = 2 * total * 4
    loop_t, loop_host = b.median_us(
        lambda i: [v.copy_(x) for v, x in zip(views[i % 2], tensors[i % 2])], synced=True)

    def clip_norm(i):
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors[i % 2])))
    t, host = b.median_us(clip_norm, synced=True)
    b.add("l2_norm_tensors", "f32 (f32 acc)", total * 4, total * 4, t, tensors=1000, host_us=host)
    t, host = b.median_us(lambda i: torch.cat(tensors[i % 2], out=flats[i % 2]), synced=True)
    b.add("pack_tensors_dense", "f32->f32", total * 4, nbytes, t, tensors=1000, host_us=host)
    b.records[-1]["speedup"] = loop_t / t
    if hasattr(torch, "_foreach_copy_"):
        t, host = b.median_us(lambda i: torch._foreach_copy_(tensors[i % 2], views[i % 2]), synced=True)
    else:  # older torch: a loop of copies
        t, host = b.median_us(
            lambda i: [x.copy_(v) for x, v in zip(tensors[i % 2], views[i % 2])], synced=True)
    b.add("unpack_tensors", "f32->f32", total * 4, nbytes, t, tensors=1000, host_us=host)
    b.records[-1]["speedup"] = loop_t / t
    b.add("memcpy_loop", "f32->f32", total * 4, nbytes, loop_t, tensors=1000, host_us=loop_host)
    return b.records


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the records here (a JSON list)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="64 MiB shards only")
    args = parser.parse_args()
    try:
        import torch
    except ImportError as error:
        print(f"torch_multi_tensor_bench: skipped: PyTorch is not importable ({error})")
        return 0
    if not torch.cuda.is_available():
        print(f"torch_multi_tensor_bench: skipped: no CUDA device visible to PyTorch "
              f"{torch.__version__} (torch.cuda.is_available() is False)")
        return 0
    props = torch.cuda.get_device_properties(0)
    device = f"{props.name} (sm_{props.major}{props.minor}, {props.multi_processor_count} SMs)"
    print(f"# torch_multi_tensor_bench on {device}, torch {torch.__version__}: "
          f"median of {args.repeats} repeats after {args.warmup} warm-up")
    records = run_all(torch, args)
    copy_gbps = records[0]["bytes"] / records[0]["time_us"] / 1e3  # 256 MiB D2D copy
    print(f"{'kernel':<32} {'dtype':<14} {'tensors':>7} {'shard MiB':>9} {'time us':>10} "
          f"{'GB/s':>8} {'/copy':>6}")
    for r in records:
        r["gbps"] = r["bytes"] / r["time_us"] / 1e3
        r["copy_gbps"] = copy_gbps
        r["ratio_to_copy"] = r["gbps"] / copy_gbps
        r["device"] = device
        line = (f"{r['kernel']:<32} {r['dtype']:<14} {r['tensors']:>7} {r['shard_bytes'] / MIB:>9.1f} "
                f"{r['time_us']:>10.1f} {r['gbps']:>8.1f} {r['ratio_to_copy']:>6.2f}")
        if r["speedup"]:
            line += f"   {r['speedup']:.1f}x faster than the per-tensor loop"
        print(line)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(records, out, indent=1)
        print(f"# wrote {len(records)} records to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
