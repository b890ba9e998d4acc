"""Median time of net(x) at batch 1 from Python, to compare with `cspnet bench`'s median.

usage: .venv/bin/python scripts/bench-python-overhead.py MODEL RUNS THREADS
"""
import statistics
import sys
import time

import numpy as np

import cspnet

model, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
net = cspnet.zoo.build(model)
net.init_weights(1)
c, h, w = net.info()["input"]
x = np.random.default_rng(0).random((1, c, h, w), dtype=np.float32)
for _ in range(3):
    net(x, threads=threads)
times = []
for _ in range(runs):
    start = time.perf_counter()
    net(x, threads=threads)
    times.append((time.perf_counter() - start) * 1e3)
print(f"python net(x) {model} {h}x{w} batch 1, {threads} threads: median {statistics.median(times):.2f} ms over {runs} runs")
