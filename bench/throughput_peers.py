#!/usr/bin/env python3
"""Batch throughput: cspnet at batch 8 (`cspnet bench --batch 8`, fp32,
bf16 and int8 from `cspnet quantize --data random`) against OpenVINO's THROUGHPUT mode (as many streams and parallel
requests as it chooses for the thread count, batch-1 requests kept in
flight by an AsyncInferQueue) at f32, bf16 and NNCF int8, on the same ONNX
export of the same weights. Images per second, the best of `--rounds`.

Usage (from the repository root; take the lock, the machine is shared):
    flock /tmp/cspnet-build.lock .venv-bench/bin/python bench/throughput_peers.py [csdarknet53:256 ...]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_threads import THREADS_DEFAULT, set_thread_env  # noqa: E402

set_thread_env(sys.argv[1:])  # before torch is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_peers import run_cspnet  # noqa: E402
from darknet_torch import build_model  # noqa: E402


def openvino_images_per_second(core, model, x, threads, precision, seconds):
    import openvino as ov
    config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": str(threads),
              "INFERENCE_PRECISION_HINT": precision}
    compiled = core.compile_model(model, "CPU", config)
    jobs = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    queue = ov.AsyncInferQueue(compiled, jobs)
    for _ in range(2 * jobs):  # warm-up
        queue.start_async({0: x})
    queue.wait_all()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(jobs):
            queue.start_async({0: x})
        done += jobs
        queue.wait_all()
    streams = compiled.get_property("NUM_STREAMS")
    return done / (time.perf_counter() - start), f"{streams} streams, {jobs} requests"


def main(argv=None):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cspnet", default=os.path.join(root, "build", "cspnet"))
    ap.add_argument("--cfg-dir", default=os.path.join(root, "..", "shared", "cfg"))
    ap.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    ap.add_argument("--batch", type=int, default=8, help="cspnet's batch")
    ap.add_argument("--runs", type=int, default=10, help="cspnet's timed runs per round")
    ap.add_argument("--seconds", type=float, default=10, help="OpenVINO's timed seconds per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--calibration", type=int, default=32,
                    help="calibration inputs (uniform noise) for NNCF and cspnet quantize")
    ap.add_argument("networks", nargs="*", help="NAME:SIZE (default csdarknet53:256)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from nncf_import import import_nncf
    nncf = import_nncf()
    import openvino as ov
    core = ov.Core()
    print(f"threads {args.threads}; cspnet batch {args.batch}; openvino {ov.__version__}, nncf {nncf.__version__}")
    for spec in args.networks or ["csdarknet53:256"]:
        name, size = spec.split(":")[0], int(spec.split(":")[1])
        cfg = os.path.join(args.cfg_dir, name + ".cfg")
        with tempfile.TemporaryDirectory(prefix="cspnet-throughput-") as work:
            weights, onnx_path = os.path.join(work, "w.weights"), os.path.join(work, "m.onnx")
            import subprocess
            subprocess.run([args.cspnet, "init", cfg, weights, "--size", f"{size}x{size}"], check=True,
                           capture_output=True)
            model = build_model(cfg, weights, width=size, height=size)
            x = torch.full((1, model.channels, size, size), 0.5)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
                torch.onnx.export(model, (x,), onnx_path, opset_version=13, input_names=["input"], **kwargs)
            ov_model = core.read_model(onnx_path)
            rng = np.random.default_rng(0)
            samples = [rng.random(tuple(x.shape), dtype=np.float32) for _ in range(args.calibration)]
            quantized = nncf.quantize(ov_model, nncf.Dataset(samples), subset_size=args.calibration)
            table = os.path.join(work, "int8.q")
            subprocess.run([args.cspnet, "quantize", cfg, "--weights", weights, "--size", f"{size}x{size}", "--data",
                            "random", "--calibration", str(args.calibration), "--out", table], check=True,
                           capture_output=True)
            best, notes = {}, {}
            for r in range(args.rounds):
                this_round = {}
                for precision in ("fp32", "bf16", "int8"):
                    ms = run_cspnet(args.cspnet, cfg, size, weights, args.threads, 3, args.runs, precision,
                                    args.batch, quantization=table if precision == "int8" else None)[0]
                    key = f"cspnet {precision} batch {args.batch}"
                    this_round[key] = 1e3 * args.batch / ms
                for label, m, precision in (("f32", ov_model, "f32"), ("bf16", ov_model, "bf16"),
                                            ("int8", quantized, "f32")):
                    rate, how = openvino_images_per_second(core, m, x.numpy(), args.threads, precision, args.seconds)
                    key = f"OpenVINO THROUGHPUT {label}"
                    this_round[key] = rate
                    notes[key] = how
                for key, rate in this_round.items():
                    best[key] = max(best.get(key, 0), rate)
                print(f"  {name} {size} round {r + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in this_round.items()),
                      flush=True)
            print(f"\n| {name} {size} | images/s |\n|---|---:|")
            for key, rate in best.items():
                print(f"| {key}{' (' + notes[key] + ')' if key in notes else ''} | {rate:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
