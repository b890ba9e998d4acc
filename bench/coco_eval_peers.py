#!/usr/bin/env python3
"""COCO bbox evaluation speed: `cspnet detector score` vs pycocotools vs
faster-coco-eval on a synthetic set (default 5000 images, ~100k detections).
Each tool loads the same GT.json + results.json and prints its 12 stats;
times are wall seconds for load + evaluate + accumulate + summarize.

Usage: .venv/bin/python bench/coco_eval_peers.py [--cspnet build/cspnet]
       [--images 5000] [--dets-per-image 20] [--repeat 3] [--keep DIR]"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import tempfile
import time

import numpy as np


def synthetic_set(images, dets_per_image, classes, seed):
    rng = np.random.default_rng(seed)
    imgs, anns, results = [], [], []
    ann_id = 1
    for i in range(images):
        w, h = (640, 480) if i % 2 else (500, 375)
        imgs.append({"id": i + 1, "width": w, "height": h})
        n = int(rng.integers(1, 15))
        sides = np.exp(rng.uniform(np.log(8), np.log(300), n))
        for s in sides:
            bw, bh = s * rng.uniform(0.6, 1.4), s * rng.uniform(0.6, 1.4)
            x, y = rng.uniform(0, w - bw if w > bw else 1), rng.uniform(0, h - bh if h > bh else 1)
            cat = int(rng.integers(1, classes + 1))
            anns.append({"id": ann_id, "image_id": i + 1, "category_id": cat, "bbox": [x, y, bw, bh],
                         "area": bw * bh, "iscrowd": int(rng.random() < 0.02)})
            ann_id += 1
            if rng.random() < 0.85:  # found, with noise
                j = rng.normal(0, 0.08, 4)
                results.append({"image_id": i + 1, "category_id": cat if rng.random() < 0.9 else int(rng.integers(1, classes + 1)),
                                "bbox": [x + j[0] * bw, y + j[1] * bh, bw * (1 + j[2]), bh * (1 + j[3])],
                                "score": float(rng.random())})
        for _ in range(max(0, dets_per_image - n)):  # false positives up to the budget
            bw, bh = rng.uniform(5, 200, 2)
            results.append({"image_id": i + 1, "category_id": int(rng.integers(1, classes + 1)),
                            "bbox": [float(rng.uniform(0, w - 5)), float(rng.uniform(0, h - 5)), float(bw), float(bh)],
                            "score": float(rng.random() * 0.5)})
    cats = [{"id": c, "name": f"c{c}"} for c in range(1, classes + 1)]
    return {"images": imgs, "annotations": anns, "categories": cats}, results


def run_cocoapi(module_coco, module_eval, gt_path, res_path):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = module_coco(gt_path)
        dt = gt.loadRes(res_path)
        ev = module_eval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return list(ev.stats)


def run_cspnet(binary, gt_path, res_path):
    out = subprocess.run([binary, "detector", "score", gt_path, res_path, "--json"], check=True,
                         capture_output=True, text=True).stdout
    j = json.loads(out)
    return [j[k] for k in ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]]


def best_time(fn, repeat):
    times, stats = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        stats = fn()
        times.append(time.perf_counter() - t)
    return min(times), stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cspnet", default="build/cspnet")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--dets-per-image", type=int, default=20)
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", default=None, help="write the JSONs here instead of a temporary folder")
    args = ap.parse_args()
    gt, results = synthetic_set(args.images, args.dets_per_image, args.classes, 0)
    folder = args.keep or tempfile.mkdtemp(prefix="cspnet_coco_bench_")
    os.makedirs(folder, exist_ok=True)
    gt_path, res_path = os.path.join(folder, "gt.json"), os.path.join(folder, "results.json")
    with open(gt_path, "w") as f:
        json.dump(gt, f)
    with open(res_path, "w") as f:
        json.dump(results, f)
    print(f"{len(gt['images'])} images, {len(gt['annotations'])} truths, {len(results)} detections, "
          f"{args.classes} classes; best of {args.repeat}")
    tools = [("cspnet detector score", lambda: run_cspnet(args.cspnet, gt_path, res_path))]
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
        tools.append(("pycocotools", lambda: run_cocoapi(COCO, COCOeval, gt_path, res_path)))
    except ImportError:
        print("pycocotools: not installed")
    try:
        from faster_coco_eval import COCO as FCOCO, COCOeval_faster
        tools.append(("faster-coco-eval", lambda: run_cocoapi(FCOCO, COCOeval_faster, gt_path, res_path)))
    except ImportError:
        print("faster-coco-eval: not installed (pip install faster-coco-eval)")
    reference = None
    for name, fn in tools:
        seconds, stats = best_time(fn, args.repeat)
        reference = reference or stats
        worst = max(abs(a - b) for a, b in zip(stats, reference))
        print(f"{name:24s} {seconds:8.3f} s   AP {stats[0]:.6f}  AP50 {stats[1]:.6f}  AR100 {stats[8]:.6f}  "
              f"max |stat - cspnet| {worst:.2e}")


if __name__ == "__main__":
    main()
