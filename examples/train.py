#!/usr/bin/python3
"""Data-parallel training of a small CNN with cohort.torch.

Every rank generates the same synthetic data set from --seed (1x28x28 images of 10 classes: a
fixed random pattern per class plus noise; nothing is downloaded), keeps its own shard of it,
and trains a copy of the model. DistributedOptimizer averages the gradients over all ranks after
every backward pass, so every copy stays identical to rank 0's.

    build/launcher/cohortrun -np 4 -x PYTHONPATH=build/bindings/python \\
        /usr/bin/python3 examples/train.py --steps 200 --compression fp16

Without a launcher it runs as a single rank. Rank 0 prints the loss (averaged over the ranks)
and the throughput every --log-every steps, then one summary line. The exit status is 1 if the
loss did not fall, 130 after Ctrl-C.
"""
import argparse
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
BLOCK = 1024  # samples generated per seeded block; shards generate only the blocks they hold


class Net(nn.Module):
    """Two 3x3 conv layers with max-pooling, then two fully connected layers: 3.3 M parameters
    (13 MB of float32 gradients per step), most of them in fc1."""

    def __init__(self, hidden: int = 1024):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 32 x 14 x 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 64 x 7 x 7
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def class_patterns(seed: int) -> torch.Tensor:
    """One smooth random 28x28 pattern per class (upsampled 7x7 noise), unit variance."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(NUM_CLASSES, 1, 7, 7, generator=g)
    patterns = F.interpolate(coarse, size=IMAGE_SHAPE[1:], mode="bilinear", align_corners=False)
    return patterns / patterns.std(dim=(1, 2, 3), keepdim=True)


def make_shard(seed: int, num_samples: int, rank: int, size: int, noise: float = 4.0):
    """Rank `rank`'s contiguous shard of a `num_samples` data set that depends only on `seed`
    (not on the number of ranks): samples [rank*n/size, (rank+1)*n/size). Returns (x, y)."""
    begin = rank * num_samples // size
    end = (rank + 1) * num_samples // size
    patterns = class_patterns(seed)
    xs, ys = [], []
    for block in range(begin // BLOCK, (end + BLOCK - 1) // BLOCK):
        g = torch.Generator().manual_seed(seed * 1_000_003 + block + 1)
        n = min(BLOCK, num_samples - block * BLOCK)
        y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
        x = patterns[y] + noise * torch.randn(n, *IMAGE_SHAPE, generator=g)
        lo = max(begin - block * BLOCK, 0)
        hi = min(end - block * BLOCK, n)
        xs.append(x[lo:hi])
        ys.append(y[lo:hi])
    return torch.cat(xs), torch.cat(ys)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
    """Endless minibatches from a shard, reshuffled every epoch (deterministically)."""
    epoch = 0
    while True:
        g = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            yield x[idx], y[idx]
        epoch += 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=200, help="optimizer steps (default 200)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="samples per rank per step (default 32); the global batch is size x this")
    p.add_argument("--compression", choices=["none", "fp16", "bf16"], default="none",
                   help="cast gradients to this type while they are communicated")
    p.add_argument("--seed", type=int, default=42, help="seeds the data and the model")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    p.add_argument("--samples", type=int, default=16384, help="data set size over all ranks")
    p.add_argument("--log-every", type=int, default=20, help="print every N steps (default 20)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per rank (default 1: ranks share the machine's cores)")
    return p.parse_args(argv)


def train(args) -> int:
    import cohort.torch as ct

    torch.set_num_threads(args.threads)
    ct.init()
    rank, size = ct.rank(), ct.size()
    if args.samples < args.batch_size * size:
        raise SystemExit(f"--samples {args.samples} is too small for {size} ranks of "
                         f"--batch-size {args.batch_size}")

    torch.manual_seed(args.seed + rank)  # different on purpose: broadcast_parameters fixes it
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr * size, momentum=0.9)
    # Every rank starts from rank 0's weights and optimizer state.
    ct.broadcast_parameters(model.state_dict(), root_rank=0)
    ct.broadcast_optimizer_state(opt, root_rank=0)
    compression = {"none": ct.Compression.none, "fp16": ct.Compression.fp16,
                   "bf16": ct.Compression.bf16}[args.compression]
    opt = ct.DistributedOptimizer(opt, named_parameters=model.named_parameters(),
                                  compression=compression)

    x, y = make_shard(args.seed, args.samples, rank, size)
    data = batches(x, y, args.batch_size, args.seed * 7919 + rank)
    if rank == 0:
        nparams = sum(p.numel() for p in model.parameters())
        print(f"cohort.torch: {size} rank(s), {nparams / 1e6:.2f} M parameters, "
              f"batch {args.batch_size}/rank, compression {args.compression}, "
              f"{len(x)} samples/rank", flush=True)

    window = torch.zeros(2)  # (sum of losses, steps) since the last report
    first_loss = last_loss = None
    start = t0 = time.perf_counter()
    window_start_step = 0
    for step in range(1, args.steps + 1):
        xb, yb = next(data)
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        window[0] += loss.item()
        window[1] += 1
        if step == 1 or step % args.log_every == 0 or step == args.steps:
            # One small allreduce every log_every steps: the loss over every rank's batches.
            avg = ct.allreduce(window, op=ct.Average)
            mean_loss = float(avg[0] / avg[1])
            now = time.perf_counter()
            rate = (step - window_start_step) * args.batch_size * size / (now - t0)
            if first_loss is None:
                first_loss = mean_loss
                start = now  # the throughput excludes step 1 (warm-up, lazy allocations)
            last_loss = mean_loss
            if rank == 0:
                print(f"step {step:5d}  loss {mean_loss:.4f}  {rate:9.1f} samples/s", flush=True)
            window.zero_()
            window_start_step, t0 = step, now
    elapsed = time.perf_counter() - start
    timed_steps = max(args.steps - 1, 1)
    fell = last_loss < first_loss if args.steps > 1 else None
    if rank == 0:
        print(f"summary: ranks {size}  steps {args.steps}  batch {args.batch_size}/rank  "
              f"compression {args.compression}  loss {first_loss:.4f} -> {last_loss:.4f}  "
              f"{timed_steps * args.batch_size * size / elapsed:.1f} samples/s  "
              f"time {elapsed:.2f} s", flush=True)
    ct.shutdown()
    if fell is False:
        if rank == 0:
            print(f"error: the loss did not fall ({first_loss:.4f} -> {last_loss:.4f})",
                  file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return train(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
