#!/usr/bin/env python3
"""Runs an exported ONNX model in independent runtimes and compares it with
cspnet's own outputs.

    check_onnx_export.py CASE_DIR

CASE_DIR holds model.onnx, input.npy and ref_<k>.npy (cspnet's outputs in the
graph's output order). Checks, each printed on one line:
  - onnx.checker with full shape inference (required),
  - ONNX Runtime (required): every output within --tolerance of its max |ref|,
  - OpenVINO and OpenCV's readNetFromONNX where importable (else SKIP line);
    OpenCV may refuse a model: printed as SKIP with its error, not a failure.
Exit: 0 all ran checks passed, 1 a mismatch or checker error, 3 a required
package (numpy, onnx, onnxruntime) is missing (the caller skips).
"""
from __future__ import annotations

import argparse
import os
import sys


def compare(name, outs, refs, tolerance):
    ok = True
    for k, (out, ref) in enumerate(zip(outs, refs)):
        out = out.reshape(ref.shape)
        scale = max(float(abs(ref).max()), 1e-30)
        err = float(abs(out.astype("float64") - ref).max()) / scale
        good = err <= tolerance
        ok &= good
        print(f"{name} output {k} {tuple(ref.shape)}: max|diff|/max|ref| = {err:.3g} {'ok' if good else 'FAIL'}")
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case")
    p.add_argument("--tolerance", type=float, default=1e-4)
    args = p.parse_args()
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        print(f"missing oracle package: {e}")
        return 3
    path = os.path.join(args.case, "model.onnx")
    x = np.load(os.path.join(args.case, "input.npy"))
    model = onnx.load(path)
    refs = [np.load(os.path.join(args.case, f"ref_{k}.npy")) for k in range(len(model.graph.output))]
    try:
        onnx.checker.check_model(model, full_check=True)
        print("onnx.checker (full_check): ok")
    except Exception as e:  # noqa: BLE001 - any checker failure fails the case
        print(f"onnx.checker FAIL: {e}")
        return 1
    ok = True
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    ok &= compare("onnxruntime", session.run(None, {"input": x}), refs, args.tolerance)
    try:
        import openvino as ov
    except ImportError as e:
        print(f"SKIP openvino: {e}")
    else:
        compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": 2, "INFERENCE_PRECISION_HINT": "f32"})
        result = compiled(x)
        ok &= compare("openvino", [result[o] for o in compiled.outputs], refs, args.tolerance)
    try:
        import cv2
    except ImportError as e:
        print(f"SKIP opencv: {e}")
    else:
        try:
            net = cv2.dnn.readNetFromONNX(path)
            net.setInput(x)
            names = [o.name for o in model.graph.output]
            outs = net.forward(names)
        except cv2.error as e:
            print(f"SKIP opencv: cannot run this model: {str(e).strip().splitlines()[-1]}")
        else:
            ok &= compare("opencv", outs, refs, args.tolerance)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
