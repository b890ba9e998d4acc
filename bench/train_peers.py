#!/usr/bin/env python3
"""Training throughput: cspnet against PyTorch eager on the same network,
weights and batch, in one invocation.

A step is what a training loop does per batch: forward in train mode (batch
norm on batch statistics, running statistics updated), softmax cross-entropy
at the logits (the input of the last [softmax]), backward, SGD update with
momentum 0.9 and weight decay 0.0005 on convolution/connected weights, and
clearing the gradients. Both sides run float32 on one random batch with
random labels, `--warmup` untimed steps then `--runs` timed ones, and report
the median. cspnet runs as `cspnet --threads T bench CFG --train` (a child
process, first), PyTorch in this process (second); with `--rounds R` that
repeats and each side keeps the lower of its per-round medians.

Usage (from the repository root; the machine is shared, so take the lock):
    flock /tmp/cspnet-build.lock /work/main/.venv-bench/bin/python \\
        bench/train_peers.py ../shared/cfg/csdarknet53.cfg --size 128x128
The newest PyTorch is in .venv-bench (scripts/install-deps.sh --bench-venv);
Debian's /usr/bin/python3 has torch 1.13. The version used is printed.
Threads: --threads (default 2) for both: cspnet --threads,
torch.set_num_threads and OMP_NUM_THREADS/MKL_NUM_THREADS.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_threads import THREADS_DEFAULT, set_thread_env  # noqa: E402

set_thread_env(sys.argv[1:])  # before torch is imported

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import darknet_torch as dt  # noqa: E402

LEARNING_RATE = 1e-4  # small: the timed steps must stay finite (cspnet bench --train uses the same)
MOMENTUM = 0.9
DECAY = 0.0005


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or int(m.group(1)) <= 0 or int(m.group(2)) <= 0:
        raise argparse.ArgumentTypeError(f"expected WxH with positive integers, e.g. 128x128, got '{text}'")
    return int(m.group(1)), int(m.group(2))


def run_cspnet(cspnet, cfg, weights, width, height, batch, threads, warmup, runs):
    """(median ms, the output's memory line) of `cspnet bench --train`."""
    cmd = [cspnet, "--threads", str(threads), "bench", cfg, "--train", "--size", f"{width}x{height}",
           "--batch", str(batch), "--weights", weights, "--runs", str(runs), "--warmup", str(warmup)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}:\n{done.stdout}{done.stderr.strip()}")
    median = re.search(r"cspnet train step: median ([0-9.]+) ms", done.stdout)
    memory = re.search(r"memory: (.*)", done.stdout)
    if not median:
        raise RuntimeError(f"cannot read the median from `{' '.join(cmd)}`:\n{done.stdout}")
    return float(median.group(1)), memory.group(1).strip() if memory else ""


class TorchTrainer:
    """The cfg's network in PyTorch, trained the way cspnet bench --train does."""

    def __init__(self, cfg, weights, width, height, batch, seed=7):
        self.model = dt.DarknetNet(dt.parse_cfg(cfg), width=width, height=height)
        self.model.load_darknet_weights(weights)
        self.model.train()
        kinds = self.model.kinds
        softmaxes = [i for i, k in enumerate(kinds) if k in ("softmax", "soft")]
        # The loss reads the logits: the input of the last softmax, else the last layer.
        self.logits = self.model.sources[softmaxes[-1]][0] if softmaxes else len(kinds) - 1
        if self.logits < 0:
            raise ValueError(f"{cfg}: the network is only a [softmax]")
        # Free every value after its last reader up to the logits (autograd
        # keeps what backward needs), as DarknetNet.forward does.
        last_use = {}
        for i in range(self.logits + 1):
            for j in self.model.sources[i]:
                last_use[j] = i
        self.release_after = [[] for _ in range(self.logits + 1)]
        for j, i in last_use.items():
            if 0 <= j < i:
                self.release_after[i].append(j)

        decayed, plain = [], []
        for _, layer in self.model.parameter_layers():
            weight = layer.conv.weight if isinstance(layer, dt.Conv) else layer.fc.weight
            for p in layer.parameters():
                (decayed if p is weight else plain).append(p)
        self.optimizer = torch.optim.SGD([{"params": decayed, "weight_decay": DECAY},
                                          {"params": plain, "weight_decay": 0.0}],
                                         lr=LEARNING_RATE, momentum=MOMENTUM)
        g = torch.Generator().manual_seed(seed)
        self.x = torch.rand((batch, self.model.channels, height, width), generator=g)
        classes = 1
        for v in self.model.shapes[self.logits]:
            classes *= v
        self.classes = classes
        self.labels = torch.randint(0, classes, (batch,), generator=g)

    def forward_logits(self, x):
        values = [None] * (self.logits + 1)
        for i in range(self.logits + 1):
            ins = [x if j < 0 else values[j] for j in self.model.sources[i]]
            values[i] = self.model.layers[i](*ins)
            for j in self.release_after[i]:
                values[j] = None
        return torch.flatten(values[self.logits], 1)

    def step(self) -> float:
        loss = F.cross_entropy(self.forward_logits(self.x), self.labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return float(loss.detach())


def time_torch(trainer: TorchTrainer, warmup: int, runs: int) -> tuple[float, float]:
    """(median ms, last loss)."""
    loss = float("nan")
    for _ in range(warmup):
        loss = trainer.step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        loss = trainer.step()  # float(loss) waits for the step to finish
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), loss


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cfg")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    ap.add_argument("--size", type=parse_size, help="input WxH (default: the cfg's)")
    ap.add_argument("--runs", type=int, default=10, help="timed steps per side and round")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per side and round")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--cspnet", default=os.path.join(root, "build", "cspnet"))
    args = ap.parse_args(argv)
    if args.batch < 1 or args.runs < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--batch, --runs and --rounds must be positive, --warmup non-negative")
    torch.set_num_threads(args.threads)
    net = dt.parse_cfg(args.cfg)[0]
    width, height = args.size or (net.get_int("width", 0), net.get_int("height", 0))

    print(f"PyTorch {torch.__version__} ({sys.executable}); cspnet {args.cspnet}; {platform.processor() or platform.machine()}")
    print(f"{os.path.basename(args.cfg)}: {width}x{height}, batch {args.batch}, {args.threads} threads, float32, "
          f"SGD lr {LEARNING_RATE:g} momentum {MOMENTUM} decay {DECAY}; {args.rounds} round(s) of "
          f"{args.warmup} warm-up + {args.runs} timed steps per side")
    ours, theirs = [], []
    with tempfile.TemporaryDirectory(prefix="cspnet-train-peers-") as work:
        weights = os.path.join(work, "net.weights")
        cmd = [args.cspnet, "init", args.cfg, weights, "--size", f"{width}x{height}", "--seed", "1"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"`{' '.join(cmd)}` exited {done.returncode}:\n{done.stderr.strip()}", file=sys.stderr)
            return 1
        trainer = TorchTrainer(args.cfg, weights, width, height, args.batch)
        for r in range(args.rounds):
            ms, memory = run_cspnet(args.cspnet, args.cfg, weights, width, height, args.batch, args.threads,
                                    args.warmup, args.runs)
            ours.append(ms)
            ms_torch, loss = time_torch(trainer, args.warmup, args.runs)
            theirs.append(ms_torch)
            print(f"  round {r + 1}: cspnet {ms:.1f} ms/step, PyTorch {ms_torch:.1f} ms/step (loss {loss:.4f})",
                  flush=True)
    best_ours, best_theirs = min(ours), min(theirs)
    print(f"cspnet : {best_ours:9.1f} ms/step  {1e3 * args.batch / best_ours:8.1f} images/s   {memory}")
    print(f"PyTorch: {best_theirs:9.1f} ms/step  {1e3 * args.batch / best_theirs:8.1f} images/s")
    print(f"PyTorch / cspnet = {best_theirs / best_ours:.2f}x (above 1: cspnet is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
