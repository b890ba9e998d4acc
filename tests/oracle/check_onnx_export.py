#!/usr/bin/env python3
"""Runs an exported ONNX model in independent runtimes and compares it with
cspnet's own outputs.

    check_onnx_export.py CASE_DIR

CASE_DIR holds model.onnx, input.npy and ref_<k>.npy (cspnet's outputs in the
graph's output order). With decode.json (--yolo-decode) the last two graph
outputs, boxes and scores, are checked against a float64 decoding of the
[yolo] refs it names (darknet's: (cell + x) / grid, exp(t) * anchor / input,
new_coords: 4 t^2 * anchor / input; score = objectness * class probability). Checks, each printed on one line:
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


def decode_reference(decode, refs):
    import numpy as np

    boxes, scores = [], []
    for y in decode["yolo"]:
        out = refs[y["output"]].astype("float64")
        n, _, h, w = out.shape
        anchors, entries = np.array(y["anchors"], dtype="float64"), y["classes"] + 5
        t = out.reshape(n, len(anchors), entries, h, w)
        gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        cx = (gx + t[:, :, 0]) / w
        cy = (gy + t[:, :, 1]) / h
        grow = (lambda v: 4 * v * v) if y["new_coords"] else np.exp
        bw = grow(t[:, :, 2]) * anchors[None, :, 0, None, None] / decode["net_w"]
        bh = grow(t[:, :, 3]) * anchors[None, :, 1, None, None] / decode["net_h"]
        b = np.stack([cx, cy, bw, bh], axis=-1)  # n, a, h, w, 4
        boxes.append(b.reshape(n, -1, 4))
        s = t[:, :, 4:5] * t[:, :, 5:]  # n, a, classes, h, w
        scores.append(s.transpose(0, 1, 3, 4, 2).reshape(n, -1, y["classes"]))
    return [np.concatenate(boxes, axis=1), np.concatenate(scores, axis=1)]


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
    decode_path = os.path.join(args.case, "decode.json")
    decode = None
    if os.path.exists(decode_path):
        import json
        with open(decode_path) as f:
            decode = json.load(f)
    raw = len(model.graph.output) - (2 if decode else 0)
    refs = [np.load(os.path.join(args.case, f"ref_{k}.npy")) for k in range(raw)]
    if decode:
        refs += decode_reference(decode, refs)
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
