#!/usr/bin/env python3
"""A detector exported with `cspnet export --yolo-decode`, run in ONNX Runtime
and OpenVINO: detections compared with `cspnet predict --json`, latency of
each runtime (docs/deploy.md).

    deploy_detector.py MODEL.onnx PREDICT.json IMAGE... [--threshold 0.25]
        [--iou 0.45] [--threads 2] [--runs 100] [--warmup 10]

PREDICT.json is `cspnet predict CFG IMAGE... --weights W --json` on the same
images. The images must have the network's input size (letterboxing is then
the identity): RGB scaled to [0, 1], as cspnet feeds its first layer. The
post-processing here is written from cspnet's documented rule, not its code:
per box the best class of objectness x class probability, kept above the
threshold, greedy NMS per class at the IoU (on the boxes as decoded), boxes
in pixels clipped to the image. Exit status 1
when a runtime's detections differ from cspnet's (class, or a box corner by
more than 0.05 px, or a score by more than 1e-4).
"""
from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np

from bench_onnx_runtimes import timed  # this folder: the same timing loop


def load_image(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"{path}: not an image OpenCV reads")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return rgb.transpose(2, 0, 1)[None]


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detections(boxes, scores, width, height, threshold, iou_threshold):
    """boxes [B, 4] (cx, cy, w, h relative), scores [B, classes] -> list of
    (class, score, [x1, y1, x2, y2] in pixels), best score first."""
    best = scores.argmax(axis=1)
    best_score = scores[np.arange(len(best)), best]
    kept = []
    for k in np.flatnonzero(best_score > threshold):
        cx, cy, w, h = (float(v) for v in boxes[k])
        xyxy = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
        kept.append((int(best[k]), float(best_score[k]), xyxy))
    kept.sort(key=lambda d: -d[1])
    out = []
    for d in kept:  # NMS on the boxes as decoded (darknet's): before clipping
        if all(o[0] != d[0] or iou(o[2], d[2]) <= iou_threshold for o in out):
            out.append(d)
    clip = lambda v, side: min(max(v, 0.0), side)
    return [(c, p, [clip(x1, width), clip(y1, height), clip(x2, width), clip(y2, height)])
            for c, p, (x1, y1, x2, y2) in out]


def compare(name, ours, theirs) -> int:
    """Matches each cspnet detection to the runtime's; returns mismatches."""
    bad = 0
    if len(ours) != len(theirs):
        print(f"  {name}: {len(theirs)} detections, cspnet {len(ours)}")
        return 1
    for o in ours:
        box = o["box_xyxy"]
        match = [t for t in theirs if t[0] == o["class"] and max(abs(a - b) for a, b in zip(t[2], box)) <= 0.05
                 and abs(t[1] - o["score"]) <= 1e-4]
        if not match:
            if bad < 3:
                print(f"  {name}: no match for cspnet's class {o['class']} score {o['score']:.4f} box {box}")
            bad += 1
    return bad


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("predict_json")
    p.add_argument("images", nargs="+")
    p.add_argument("--threshold", type=float, default=0.25)
    p.add_argument("--iou", type=float, default=0.45)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    a = p.parse_args()

    import onnxruntime as ort
    import openvino as ov

    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    session = ort.InferenceSession(a.model, options, providers=["CPUExecutionProvider"])
    # f32: on CPUs with bf16 units OpenVINO's default precision is bf16.
    compiled = ov.Core().compile_model(a.model, "CPU", {"INFERENCE_NUM_THREADS": a.threads,
                                                        "INFERENCE_PRECISION_HINT": "f32"})
    runtimes = {
        "ONNX Runtime": lambda x: session.run(["boxes", "scores"], {"input": x}),
        "OpenVINO": lambda x: (lambda r: [r[compiled.output("boxes")], r[compiled.output("scores")]])(compiled(x)),
    }
    predicted = {im["file"]: im for im in json.load(open(a.predict_json))["images"]}

    failures = 0
    for path in a.images:
        x = load_image(path)
        ours = predicted[path].get("detections", [])
        print(f"{path}: cspnet {len(ours)} detections")
        for name, run in runtimes.items():
            boxes, scores = run(x)
            theirs = detections(boxes[0], scores[0], x.shape[3], x.shape[2], a.threshold, a.iou)
            bad = compare(name, ours, theirs)
            print(f"  {name}: {len(theirs)} detections, {'same as cspnet' if not bad else 'DIFFERENT'}")
            failures += bad
    x = load_image(a.images[0])
    print(f"latency, batch 1, {a.threads} threads, {a.runs} runs after {a.warmup} warm-up:")
    for name, run in runtimes.items():
        median, fastest = timed(lambda: run(x), a.runs, a.warmup)
        print(f"  {name}: median {median:.2f} ms, min {fastest:.2f} ms")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
