#!/usr/bin/env python3
"""cspnet against its peers on the paper's networks: OpenCV DNN (through
`cspnet bench --compare opencv`), PyTorch eager, PyTorch frozen TorchScript
(with and without optimize_for_inference), ONNX Runtime and OpenVINO on
PyTorch's ONNX export. Batch 1, the same weights file (`cspnet init`) and the
same constant input (0.5, as `cspnet bench` uses) for every engine.

Precisions: fp32 for every engine; with `--precision all` also cspnet bf16
(`cspnet bench --precision bf16`), cspnet int8 (`cspnet quantize --data
random --calibration N`, then `cspnet bench --precision int8`), OpenVINO bf16 (INFERENCE_PRECISION_HINT
bf16, where the CPU has it) and OpenVINO int8 (NNCF post-training
quantization of the same ONNX model, calibrated on `--calibration` inputs of
uniform noise in [0, 1]: for latency, not accuracy). The fp32 peers must
agree with PyTorch eager to 1e-3 of the largest output; the bf16 and int8
engines' deviations are printed, not required.

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
from nncf_import import import_nncf  # noqa: E402

NETWORKS = [("csdarknet53", 256), ("csresnext50", 256), ("csdarknet53-panet-spp", 512),
            ("csresnext50-panet-spp", 512)]


def run_cspnet(cspnet, cfg, size, weights, threads, warmup, runs, precision="fp32", batch=1, quantization=None):
    """cspnet's median and OpenCV's (fp32), or cspnet's alone (bf16, int8: None)."""
    cmd = [cspnet, "--threads", str(threads), "bench", cfg, "--size", f"{size}x{size}", "--batch", str(batch),
           "--runs", str(runs), "--warmup", str(warmup), "--weights", weights]
    cmd += ["--compare", "opencv"] if precision == "fp32" and batch == 1 else ["--precision", precision]
    if quantization:
        cmd += ["--quantization", quantization, "--accuracy-inputs", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}:\n{done.stderr.strip()}")
    out = done.stdout
    ours = re.search(r"cspnet: median ([0-9.]+) ms", out)
    theirs = re.search(r"OpenCV DNN: median ([0-9.]+) ms", out)
    if (precision != "fp32" or batch != 1) and ours:
        return float(ours.group(1)), None
    if not ours or not theirs:
        raise RuntimeError(f"cannot read the medians from `{' '.join(cmd)}`:\n{out}")
    return float(ours.group(1)), float(theirs.group(1))


def make_peers(cfg, size, weights, threads, workdir, want_opt=True, precisions="fp32", calibration=32,
               profilers=None):
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
    path = os.path.join(workdir, os.path.basename(cfg) + ".onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
            torch.onnx.export(model, (x,), path, opset_version=13, input_names=["input"], **kwargs)
    except Exception as e:  # noqa: BLE001
        for name in ("ONNX Runtime",) + OPENVINO:
            skipped[name] = f"ONNX export (opset 13) failed: {type(e).__name__}: {e}"
        return model, x, peers, skipped
    add_onnxruntime_peer(path, x.numpy(), threads, peers, skipped)
    add_openvino_peers(path, x.numpy(), threads, precisions, calibration, peers, skipped, profilers)
    return model, x, peers, skipped


def add_onnxruntime_peer(onnx_path, x, threads, peers, skipped):
    try:
        import onnxruntime as ort
    except ImportError as e:
        skipped["ONNX Runtime"] = f"onnxruntime not importable ({e})"
        return
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feed = {"input": x}
    peers["ONNX Runtime"] = lambda: session.run(None, feed)


OPENVINO = ("OpenVINO", "OpenVINO bf16", "OpenVINO int8")


def add_openvino_peers(onnx_path, x, threads, precisions, calibration, peers, skipped, profilers):
    """OpenVINO on the ONNX export: fp32, and with precisions 'all' bf16 and
    NNCF int8; latency mode, one stream, `threads` inference threads.
    `profilers` (a dict, or None): the same models compiled with PERF_COUNT."""
    try:
        import openvino as ov
    except ImportError as e:
        for name in OPENVINO:
            skipped[name] = f"openvino not importable ({e})"
        return
    core = ov.Core()
    model = core.read_model(onnx_path)

    def compiled_peer(name, ov_model, precision):
        config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": str(threads),
                  "INFERENCE_PRECISION_HINT": precision}
        request = core.compile_model(ov_model, "CPU", config).create_infer_request()
        peers[name] = lambda: request.infer({0: x})[0]
        if profilers is not None:  # a second compilation with counters, kept out of the timed one
            counted = core.compile_model(ov_model, "CPU", {**config, "PERF_COUNT": "YES"}).create_infer_request()
            profilers[name] = counted

    compiled_peer("OpenVINO", model, "f32")
    if precisions != "all":
        return
    if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        compiled_peer("OpenVINO bf16", model, "bf16")
    else:
        skipped["OpenVINO bf16"] = "the CPU has no bf16 (OPTIMIZATION_CAPABILITIES)"
    try:
        nncf = import_nncf()
    except ImportError as e:
        skipped["OpenVINO int8"] = f"nncf not importable ({e})"
        return
    rng = np.random.default_rng(0)
    samples = [rng.random(x.shape, dtype=np.float32) for _ in range(calibration)]
    quantized = nncf.quantize(model, nncf.Dataset(samples), subset_size=calibration)
    compiled_peer("OpenVINO int8", quantized, "f32")


def openvino_layer_table(request, x, repeats=5, top=12):
    """OpenVINO's per-layer counters (PERF_COUNT) after `repeats` runs, summed
    by (layer type, kernel): rows of (ms per run, layer type, kernel, layers),
    the total, and every executed node as (name, layer type, kernel, ms per
    run) in execution order."""
    request.infer({0: x})  # warm-up
    totals, nodes = {}, {}
    for _ in range(repeats):
        request.infer({0: x})
        for info in request.profiling_info:
            if info.status.name != "EXECUTED":
                continue
            ms_run = info.real_time.total_seconds() * 1e3 / repeats
            key = (info.node_type, info.exec_type)
            ms, layers = totals.get(key, (0.0, set()))
            totals[key] = (ms + ms_run, layers | {info.node_name})
            node = (info.node_name, info.node_type, info.exec_type)
            nodes[node] = nodes.get(node, 0.0) + ms_run
    rows = sorted(((ms, kind, kernel, len(layers)) for (kind, kernel), (ms, layers) in totals.items()), reverse=True)
    return rows[:top], sum(r[0] for r in rows), [(*node, ms) for node, ms in nodes.items()]


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
    for module in ("onnxruntime", "openvino", "nncf"):
        try:
            info[module] = (import_nncf() if module == "nncf" else __import__(module)).__version__
        except ImportError:
            info[module] = "missing"
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
    ap.add_argument("--precision", choices=("fp32", "all"), default="fp32",
                    help="all: also cspnet bf16, OpenVINO bf16 and OpenVINO int8 (NNCF)")
    ap.add_argument("--calibration", type=int, default=32,
                    help="calibration inputs for OpenVINO int8 (NNCF) and cspnet int8 (cspnet quantize)")
    ap.add_argument("--layers", action="store_true",
                    help="also print OpenVINO's per-layer time by layer type and kernel (compare `cspnet bench --layers`)")
    ap.add_argument("--nodes", action="store_true",
                    help="with --layers, also every OpenVINO node's time (its name carries the darknet layer: "
                         "/layers.N/...), to set beside `cspnet bench --layers` layer by layer")
    ap.add_argument("networks", nargs="*", help="NAME:SIZE (default: the four of the issue)")
    args = ap.parse_args(argv)
    if args.runs < 10:
        ap.error("--runs must be at least 10")
    if args.nodes and not args.layers:
        ap.error("--nodes needs --layers")
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    nets = [(n.split(":")[0], int(n.split(":")[1])) for n in args.networks] or NETWORKS

    info = versions(args.cspnet)
    print("versions: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    print(f"threads {args.threads}, batch 1, {args.precision}, warm-up {args.warmup}, timed runs {args.runs}, "
          f"rounds {args.rounds}", flush=True)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="cspnet-peers-") as work:
        for name, size in nets:
            cfg = os.path.join(args.cfg_dir, name + ".cfg")
            weights = os.path.join(work, name + ".weights")
            subprocess.run([args.cspnet, "init", cfg, weights, "--seed", str(args.seed), "--size",
                            f"{size}x{size}"], check=True, capture_output=True)
            table = None
            if args.precision == "all":
                table = os.path.join(work, name + ".q")
                subprocess.run([args.cspnet, "quantize", cfg, "--weights", weights, "--size", f"{size}x{size}",
                                "--data", "random", "--calibration", str(args.calibration), "--out", table],
                               check=True, capture_output=True)
            profilers = {} if args.layers else None
            model, x, peers, skipped = make_peers(cfg, size, weights, args.threads, work, not args.no_opt,
                                                  args.precision, args.calibration, profilers)
            for peer, why in skipped.items():
                notes.append(f"{name}: {peer} skipped: {why}")
                print(f"  {name}: {peer} skipped: {why}", flush=True)
            # The peers must compute the same thing before their times mean anything.
            ref = first_output(peers["PyTorch eager"]())
            for peer, fn in peers.items():
                d = float(np.abs(first_output(fn()) - ref).max() / max(np.abs(ref).max(), 1e-30))
                if peer in ("OpenVINO bf16", "OpenVINO int8"):
                    notes.append(f"{name}: {peer} against PyTorch eager fp32: max|d|/max|ref| {d:.2e}")
                elif d > 1e-3:
                    raise RuntimeError(f"{name}: {peer} differs from PyTorch eager: max|d|/max|ref| {d:.2e}")
            medians = {}
            for r in range(args.rounds):
                ours, opencv = run_cspnet(args.cspnet, cfg, size, weights, args.threads, args.warmup, args.runs)
                medians.setdefault("cspnet", []).append(ours)
                medians.setdefault("OpenCV DNN", []).append(opencv)
                if args.precision == "all":
                    medians.setdefault("cspnet bf16", []).append(
                        run_cspnet(args.cspnet, cfg, size, weights, args.threads, args.warmup, args.runs, "bf16")[0])
                    medians.setdefault("cspnet int8", []).append(
                        run_cspnet(args.cspnet, cfg, size, weights, args.threads, args.warmup, args.runs, "int8",
                                   quantization=table)[0])
                for peer, t in time_peers(peers, args.warmup, args.runs).items():
                    medians.setdefault(peer, []).append(statistics.median(t))
                print(f"  {name} {size} round {r + 1}: " +
                      ", ".join(f"{k} {v[-1]:.1f}" for k, v in medians.items()), flush=True)
            rows.append((name, size, {k: min(v) for k, v in medians.items()}))
            if args.layers:
                for peer, request in profilers.items():
                    table, total, nodes = openvino_layer_table(request, x.numpy())
                    print(f"\n{name} {size}, {peer}: per-layer counters, {total:.1f} ms per run in all")
                    print("| ms | layer type | kernel | layers |\n|---:|---|---|---:|")
                    for ms, kind, kernel, count in table:
                        print(f"| {ms:.2f} | {kind} | {kernel} | {count} |")
                    if args.nodes:
                        print(f"\n{name} {size}, {peer}: every node\n| ms | node | layer type | kernel |\n|---:|---|---|---|")
                        for node, kind, kernel, ms in nodes:
                            print(f"| {ms:.3f} | {node} | {kind} | {kernel} |")
            del model, x, peers

    engines = []
    for _, _, m in rows:
        engines += [k for k in m if k not in engines]
    # A bf16 or int8 peer against cspnet at that precision (when measured),
    # every other engine against cspnet fp32.
    def base(e):
        for p in ("bf16", "int8"):
            if e.endswith(" " + p) and e != "cspnet " + p and "cspnet " + p in engines:
                return "cspnet " + p
        return "cspnet"

    compared = [e for e in engines if e != "cspnet"]
    print("\n| network | size | " + " | ".join(f"{e} ms" for e in engines) + " | " +
          " | ".join(f"{e} / {base(e)}" for e in compared) + " |")
    print("|---|---|" + "---|" * (len(engines) + len(compared)))
    for name, size, m in rows:
        cells = [f"{m[e]:.1f}" if e in m else "-" for e in engines]
        ratios = [f"{m[e] / m[base(e)]:.2f}x" if e in m and base(e) in m else "-" for e in compared]
        print(f"| {name} | {size} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
