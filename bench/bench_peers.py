#!/usr/bin/env python3
"""cspnet against its peers on the paper's networks: OpenCV DNN (through
`cspnet bench --compare opencv`), PyTorch eager, PyTorch frozen TorchScript
(with and without optimize_for_inference) and ONNX Runtime on PyTorch's ONNX
export. fp32, batch 1, the same weights file (`cspnet init`) and the same
constant input (0.5, as `cspnet bench` uses) for every engine.

Each network runs `--rounds` rounds; a round is one `cspnet bench` process
(cspnet, then OpenCV in-process, then cspnet again; it reports the lower of
its two cspnet medians) followed by the Python peers one after the other.
Every engine gets `--warmup` untimed runs and `--runs` timed runs in a row per
round; the table shows, per engine, the lower of its per-round medians (the
median is robust to spikes within a round, the minimum over rounds to a round
that met a busy machine).

Usage (from the repository root; the machine is shared, so take the lock):
    flock /tmp/cspnet-build.lock .venv-bench/bin/python bench/bench_peers.py
Threads: 2 for every engine (cspnet --threads, torch.set_num_threads,
OMP_NUM_THREADS, ORT intra_op_num_threads).
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
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_threads import THREADS_DEFAULT, set_thread_env  # noqa: E402

set_thread_env(sys.argv[1:])  # before torch is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

from darknet_torch import build_model  # noqa: E402

NETWORKS = [("csdarknet53", 256), ("csresnext50", 256), ("csdarknet53-panet-spp", 512),
            ("csresnext50-panet-spp", 512)]


def run_cspnet(cspnet, cfg, size, weights, threads, warmup, runs):
    cmd = [cspnet, "--threads", str(threads), "bench", cfg, "--size", f"{size}x{size}", "--batch", "1",
           "--runs", str(runs), "--warmup", str(warmup), "--weights", weights, "--compare", "opencv"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}:\n{done.stderr.strip()}")
    out = done.stdout
    ours = re.search(r"cspnet: median ([0-9.]+) ms", out)
    theirs = re.search(r"OpenCV DNN: median ([0-9.]+) ms", out)
    if not ours or not theirs:
        raise RuntimeError(f"cannot read the medians from `{' '.join(cmd)}`:\n{out}")
    return float(ours.group(1)), float(theirs.group(1))


def make_peers(cfg, size, weights, threads, workdir, want_opt=True):
    """name -> callable running one batch-1 inference; plus skip reasons."""
    model = build_model(cfg, weights, width=size, height=size)
    x = torch.full((1, model.channels, size, size), 0.5)
    peers, skipped = {}, {}

    def eager():
        with torch.inference_mode():
            return model(x)

    peers["PyTorch eager"] = eager
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(model, (x,), check_trace=False)
            frozen = torch.jit.freeze(traced.eval())

        def ts_frozen():
            with torch.inference_mode():
                return frozen(x)

        peers["TorchScript frozen"] = ts_frozen
        if want_opt:
            try:
                with torch.no_grad():
                    optimised = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(
                        model, (x,), check_trace=False).eval()))

                def ts_opt():
                    with torch.inference_mode():
                        return optimised(x)

                peers["TorchScript frozen+opt"] = ts_opt
            except Exception as e:  # noqa: BLE001
                skipped["TorchScript frozen+opt"] = f"optimize_for_inference failed: {type(e).__name__}: {e}"
    try:
        import onnxruntime as ort
    except ImportError as e:
        skipped["ONNX Runtime"] = f"onnxruntime not importable ({e})"
        return model, x, peers, skipped
    path = os.path.join(workdir, os.path.basename(cfg) + ".onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
            torch.onnx.export(model, (x,), path, opset_version=13, input_names=["input"], **kwargs)
    except Exception as e:  # noqa: BLE001
        skipped["ONNX Runtime"] = f"ONNX export (opset 13) failed: {type(e).__name__}: {e}"
        return model, x, peers, skipped
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}

    def onnxruntime_run():
        return session.run(None, feed)

    peers["ONNX Runtime"] = onnxruntime_run
    return model, x, peers, skipped


def first_output(value):
    if isinstance(value, (list, tuple)):
        value = value[0]
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def time_peers(peers, warmup, runs):
    """One engine after the other, each with its own warm-up, as `cspnet
    bench` times cspnet and OpenCV; returns name -> list of ms."""
    times = {}
    for name, fn in peers.items():
        for _ in range(warmup):
            fn()
        times[name] = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times[name].append(1e3 * (time.perf_counter() - start))
    return times


def versions(cspnet):
    info = {"torch": torch.__version__}
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = "missing"
    for key, pkg in (("OpenCV (cspnet's peer)", "libopencv-dev"), ("oneDNN (cspnet)", "libdnnl-dev")):
        try:
            info[key] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                                       text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            info[key] = "unknown"
    info["oneDNN in torch"] = _torch_onednn()
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info["cpu"] = f"{cpu}, {os.cpu_count()} cores visible"
    info["python"] = platform.python_version()
    info["cspnet"] = cspnet
    return info


def _torch_onednn():
    m = re.search(r"MKL-DNN v([0-9.]+)", torch.__config__.show())
    return m.group(1) if m else "?"


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cspnet", default=os.path.join(root, "build", "cspnet"))
    ap.add_argument("--cfg-dir", default=os.path.join(root, "..", "shared", "cfg"))
    ap.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="seed of `cspnet init` for the shared weights")
    ap.add_argument("--no-opt", action="store_true", help="skip TorchScript optimize_for_inference")
    ap.add_argument("networks", nargs="*", help="NAME:SIZE (default: the four of the issue)")
    args = ap.parse_args(argv)
    if args.runs < 10:
        ap.error("--runs must be at least 10")
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    nets = [(n.split(":")[0], int(n.split(":")[1])) for n in args.networks] or NETWORKS

    info = versions(args.cspnet)
    print("versions: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    print(f"threads {args.threads}, batch 1, fp32, warm-up {args.warmup}, timed runs {args.runs}, "
          f"rounds {args.rounds}", flush=True)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="cspnet-peers-") as work:
        for name, size in nets:
            cfg = os.path.join(args.cfg_dir, name + ".cfg")
            weights = os.path.join(work, name + ".weights")
            subprocess.run([args.cspnet, "init", cfg, weights, "--seed", str(args.seed), "--size",
                            f"{size}x{size}"], check=True, capture_output=True)
            model, x, peers, skipped = make_peers(cfg, size, weights, args.threads, work, not args.no_opt)
            for peer, why in skipped.items():
                notes.append(f"{name}: {peer} skipped: {why}")
                print(f"  {name}: {peer} skipped: {why}", flush=True)
            # The peers must compute the same thing before their times mean anything.
            ref = first_output(peers["PyTorch eager"]())
            for peer, fn in peers.items():
                d = float(np.abs(first_output(fn()) - ref).max() / max(np.abs(ref).max(), 1e-30))
                if d > 1e-3:
                    raise RuntimeError(f"{name}: {peer} differs from PyTorch eager: max|d|/max|ref| {d:.2e}")
            medians = {}
            for r in range(args.rounds):
                ours, opencv = run_cspnet(args.cspnet, cfg, size, weights, args.threads, args.warmup, args.runs)
                medians.setdefault("cspnet", []).append(ours)
                medians.setdefault("OpenCV DNN", []).append(opencv)
                for peer, t in time_peers(peers, args.warmup, args.runs).items():
                    medians.setdefault(peer, []).append(statistics.median(t))
                print(f"  {name} {size} round {r + 1}: " +
                      ", ".join(f"{k} {v[-1]:.1f}" for k, v in medians.items()), flush=True)
            rows.append((name, size, {k: min(v) for k, v in medians.items()}))
            del model, x, peers

    engines = []
    for _, _, m in rows:
        engines += [k for k in m if k not in engines]
    print("\n| network | size | " + " | ".join(f"{e} ms" for e in engines) + " | " +
          " | ".join(f"{e} / cspnet" for e in engines if e != "cspnet") + " |")
    print("|---|---|" + "---|" * (2 * len(engines) - 1))
    for name, size, m in rows:
        cells = [f"{m[e]:.1f}" if e in m else "-" for e in engines]
        ratios = [f"{m[e] / m['cspnet']:.2f}x" if e in m else "-" for e in engines if e != "cspnet"]
        print(f"| {name} | {size} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
