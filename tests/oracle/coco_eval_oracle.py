"""pycocotools' COCOeval (bbox) on GT.json + RESULTS.json; writes the 12
stats, per-class AP and the precision array's sum to OUT.json.
Usage: coco_eval_oracle.py GT.json RESULTS.json OUT.json"""
import contextlib
import io
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def load_results(gt, path):
    with open(path) as f:
        anns = json.load(f)
    if anns:
        return gt.loadRes(path)
    # loadRes cannot take an empty list: an empty results COCO instead.
    dt = COCO()
    dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
    dt.createIndex()
    return dt


def main(gt_path, res_path, out_path):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = load_results(gt, res_path)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]
    class_ap = []
    for k in range(precision.shape[2]):
        p = precision[:, :, k, 0, -1]
        class_ap.append(float(np.mean(p[p > -1])) if (p > -1).any() else -1.0)
    with open(out_path, "w") as f:
        json.dump({"stats": [float(s) for s in ev.stats], "class_ap": class_ap,
                   "precision": precision.ravel().tolist()}, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
