#!/usr/bin/env python3
"""Detector training throughput: cspnet against PyTorch eager on the same
cfg, weights, batch, input and [yolo] targets, in one invocation.

A step (both sides): forward in train mode (batch norm on batch statistics),
the [yolo] loss of every head against the batch's boxes (cspnet's layer;
bench/torch_yolo_loss.py in PyTorch, checked against the float64 oracle by
bench/test_torch_yolo_loss.py), backward, SGD with momentum 0.9 and weight
decay 0.0005 on convolution weights, clearing the gradients. Gradient scale
1/batch, learning rate 1e-4 (small: timed steps must stay finite).

Per network and batch:
 1. `cspnet --threads T bench CFG --train --size S --batch B --weights W
    --boxes K --dump-batch PREFIX` (a child process, first): its median step
    and its loss at the starting weights; PREFIX.npy / PREFIX.json are the
    input batch and the random boxes (K per image, fixed by a seed) it used.
 2. PyTorch in this process on PREFIX.npy and PREFIX.json with the same
    .weights (`cspnet init CFG W --seed 1`): the first step's loss must agree
    with cspnet's (printed; a difference above 1e-3 relative is an error, exit
    code 1: then the two sides do not train the same thing),
    then warm-up and timed steps, median.
Optionally (--compile) the same with torch.compile(model) (the loss stays
eager: its positives have data-dependent shapes).

Usage (repository root; the machine is shared, so take the lock):
    flock /tmp/cspnet-build.lock /work/main/.venv-bench/bin/python \\
        bench/train_detector_peers.py
    ... bench/train_detector_peers.py cfg/csp-detector-small.cfg:128x128:16,32
Default plan: cfg/csp-detector-small.cfg at 128x128, batch 16 and 32;
../shared/cfg/csdarknet53-panet-spp.cfg at 256x256, batch 16. 2 threads.
"""
from __future__ import annotations

import argparse
import json
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

import darknet_torch as dt  # noqa: E402
import torch_yolo_loss as tyl  # noqa: E402

LEARNING_RATE = 1e-4  # as cspnet bench --train
MOMENTUM = 0.9
DECAY = 0.0005
LOSS_AGREEMENT = 1e-3  # first-step loss, relative

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_PLAN = [f"{ROOT}/cfg/csp-detector-small.cfg:128x128:16,32",
                f"{ROOT}/../shared/cfg/csdarknet53-panet-spp.cfg:256x256:16"]


def parse_spec(text: str):
    m = re.fullmatch(r"(.+):(\d+)x(\d+):(\d+(?:,\d+)*)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected CFG:WxH:BATCH[,BATCH...], got '{text}'")
    batches = [int(b) for b in m.group(4).split(",")]
    if min(batches) <= 0 or int(m.group(2)) <= 0 or int(m.group(3)) <= 0:
        raise argparse.ArgumentTypeError(f"'{text}': sizes and batches must be positive")
    return m.group(1), int(m.group(2)), int(m.group(3)), batches


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}:\n{done.stdout}{done.stderr.strip()}")
    return done.stdout


def run_cspnet(args, cfg, weights, width, height, batch, prefix):
    """(median ms, loss at the starting weights, memory line)."""
    out = run([args.cspnet, "--threads", str(args.threads), "bench", cfg, "--train", "--size", f"{width}x{height}",
               "--batch", str(batch), "--weights", weights, "--runs", str(args.runs), "--warmup",
               str(args.warmup), "--boxes", str(args.boxes), "--dump-batch", prefix])
    median = re.search(r"cspnet train step: median ([0-9.]+) ms", out)
    loss = re.search(r"at the starting weights ([-0-9.e+naif]+)", out)
    memory = re.search(r"memory: (.*)", out)
    if not median or not loss:
        raise RuntimeError(f"cannot read the median and loss from cspnet bench:\n{out}")
    return float(median.group(1)), float(loss.group(1)), memory.group(1).strip() if memory else ""


class TorchDetectorTrainer:
    """The cfg's network in PyTorch, trained as cspnet bench --train does."""

    def __init__(self, cfg, weights, width, height, prefix, compile_model=False):
        self.model = dt.DarknetNet(dt.parse_cfg(cfg), width=width, height=height)
        self.model.load_darknet_weights(weights)
        self.model.train()
        self.heads = tyl.yolo_heads_from_cfg(cfg)
        self.width, self.height = width, height
        decayed, plain = [], []
        for _, layer in self.model.parameter_layers():
            weight = layer.conv.weight if isinstance(layer, dt.Conv) else layer.fc.weight
            for p in layer.parameters():
                (decayed if p is weight else plain).append(p)
        self.optimizer = torch.optim.SGD([{"params": decayed, "weight_decay": DECAY},
                                          {"params": plain, "weight_decay": 0.0}],
                                         lr=LEARNING_RATE, momentum=MOMENTUM)
        self.x = torch.from_numpy(np.load(prefix + ".npy").astype(np.float32))
        with open(prefix + ".json", encoding="utf-8") as f:
            self.truths = tyl.pack_truths(json.load(f)["boxes"])
        self.batch = self.x.shape[0]
        self.forward = torch.compile(self.model) if compile_model else self.model

    def step(self) -> float:
        outputs = self.forward(self.x)
        loss = tyl.yolo_loss(outputs, self.heads, self.truths, self.width, self.height, 1.0 / self.batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return float(loss.detach())  # waits for the step


def time_torch(trainer, warmup, runs):
    """(first step's loss, median ms, last loss)."""
    first = trainer.step()
    for _ in range(warmup - 1):
        trainer.step()
    times, loss = [], first
    for _ in range(runs):
        start = time.perf_counter()
        loss = trainer.step()
        times.append((time.perf_counter() - start) * 1e3)
    return first, statistics.median(times), loss


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("plan", nargs="*", type=parse_spec, help="CFG:WxH:BATCH[,BATCH...] (default: see above)")
    ap.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    ap.add_argument("--runs", type=int, default=8, help="timed steps per side")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per side (at least 1)")
    ap.add_argument("--boxes", type=int, default=8, help="random truth boxes per image")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(model)")
    ap.add_argument("--cspnet", default=os.path.join(ROOT, "build", "cspnet"))
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 1 or args.boxes < 1:
        ap.error("--runs, --warmup and --boxes must be positive")
    plan = args.plan or [parse_spec(s) for s in DEFAULT_PLAN]
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__} ({sys.executable}); cspnet {args.cspnet}; "
          f"{platform.processor() or platform.machine()}")
    print(f"{args.threads} threads, float32, SGD lr {LEARNING_RATE:g} momentum {MOMENTUM} decay {DECAY}, "
          f"{args.boxes} random boxes per image; {args.warmup} warm-up + {args.runs} timed steps per side, median")
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="cspnet-det-peers-") as work:
        for cfg, width, height, batches in plan:
            name = os.path.splitext(os.path.basename(cfg))[0]
            weights = os.path.join(work, name + ".weights")
            run([args.cspnet, "init", cfg, weights, "--size", f"{width}x{height}", "--seed", "1"])
            for batch in batches:
                prefix = os.path.join(work, f"{name}-{batch}")
                ours, our_loss, memory = run_cspnet(args, cfg, weights, width, height, batch, prefix)
                print(f"{name} {width}x{height} batch {batch}: cspnet {ours:.1f} ms/step ({memory})", flush=True)
                sides = [("eager", False)] + ([("compile", True)] if args.compile else [])
                for label, compiled in sides:
                    trainer = TorchDetectorTrainer(cfg, weights, width, height, prefix, compiled)
                    first, theirs, last = time_torch(trainer, args.warmup, args.runs)
                    agreement = abs(first - our_loss) / max(abs(our_loss), 1e-30)
                    print(f"  PyTorch {label}: {theirs:.1f} ms/step; loss at the starting weights cspnet "
                          f"{our_loss:.6g}, PyTorch {first:.6g} (rel. diff {agreement:.1e}); last {last:.6g}",
                          flush=True)
                    if agreement > LOSS_AGREEMENT:
                        print(f"error: the first-step losses differ by {agreement:.1e} > {LOSS_AGREEMENT:g}: "
                              "the two sides do not train the same thing", file=sys.stderr)
                        failed = True
                    rows.append((name, f"{width}x{height}", batch, label, ours, theirs, agreement))
                    del trainer
    print()
    print(f"| network | input | batch | cspnet ms/step | cspnet images/s | PyTorch | PyTorch ms/step | "
          f"PyTorch images/s | PyTorch / cspnet | first-step loss rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, size, batch, label, ours, theirs, agreement in rows:
        print(f"| {name} | {size} | {batch} | {ours:.1f} | {1e3 * batch / ours:.1f} | {label} | {theirs:.1f} | "
              f"{1e3 * batch / theirs:.1f} | {theirs / ours:.2f}x | {agreement:.1e} |")
    print("(PyTorch / cspnet above 1: cspnet is faster; the target is >= 1.5x)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
