#!/usr/bin/env python3
"""Latency of an exported model in ONNX Runtime and OpenVINO (CPU, fp32),
for comparison with `cspnet bench` on the same machine and thread count.

    bench_onnx_runtimes.py MODEL.onnx [--threads 2] [--runs 20] [--warmup 3]

Prints the median/min per runtime in ms; a runtime that is not installed is
reported as skipped.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def timed(run, runs, warmup):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=1, help="batch for a model with a dynamic batch axis")
    a = p.parse_args()
    import onnx

    dims = onnx.load(a.model, load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    shape = [d.dim_value if d.dim_value else a.batch for d in dims]
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    print(f"{a.model}: input {shape}, {a.threads} threads, {a.runs} runs")
    try:
        import onnxruntime as ort
    except ImportError as e:
        print(f"onnxruntime: skipped ({e})")
    else:
        o = ort.SessionOptions()
        o.intra_op_num_threads = a.threads
        o.inter_op_num_threads = 1
        s = ort.InferenceSession(a.model, o, providers=["CPUExecutionProvider"])
        med, best = timed(lambda: s.run(None, {"input": x}), a.runs, a.warmup)
        print(f"onnxruntime {ort.__version__}: median {med:.2f} ms, min {best:.2f} ms")
    try:
        import openvino as ov
    except ImportError as e:
        print(f"openvino: skipped ({e})")
    else:
        c = ov.Core().compile_model(a.model, "CPU", {"INFERENCE_NUM_THREADS": a.threads,
                                                     "INFERENCE_PRECISION_HINT": "f32",
                                                     "PERFORMANCE_HINT": "LATENCY"})
        r = c.create_infer_request()
        med, best = timed(lambda: r.infer({0: x}), a.runs, a.warmup)
        print(f"openvino {ov.__version__}: median {med:.2f} ms, min {best:.2f} ms")


if __name__ == "__main__":
    main()
