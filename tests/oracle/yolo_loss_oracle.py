#!/usr/bin/env python3
"""Float64 reference of darknet's [yolo] training deltas (AlexeyAB darknet
forward_yolo_layer semantics, as described in ../shared/detection-notes.md
sections 3.1-3.5), written from those rules, not from cspnet's C++.

Usage: yolo_loss_oracle.py in.json out.json

in.json: {"cases": [{"net_w", "net_h", "grad_scale", "truths": [[[x,y,w,h,cls], ...] per image],
                     "heads": [{"attrs": {...}, "shape": [n,c,h,w], "input": [raw layer input, NCHW]}]}]}
out.json: {"cases": [{"heads": [{"grad": [...], "loss", "box", "obj", "cls", "positives", "iou_sum"}]}]}

The IoU-loss gradients (iou_loss=iou|giou|diou|ciou) come from central
differences of the measures (CIoU's alpha held constant, as in the CIoU
paper), so they check the C++ analytic gradients independently.
"""
import json
import math
import sys

import numpy as np


def logistic(v):
    return 1.0 / (1.0 + np.exp(-v))


def corners(b):
    x, y, w, h = b
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def measure(p, t, kind, alpha=None):
    pl, pt, pr, pb = corners(p)
    tl, tt, tr, tb = corners(t)
    iw = min(pr, tr) - max(pl, tl)
    ih = min(pb, tb) - max(pt, tt)
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = p[2] * p[3] + t[2] * t[3] - inter
    iou = inter / union if union > 0 else 0.0
    if kind == "iou":
        return iou
    cw = max(pr, tr) - min(pl, tl)
    ch = max(pb, tb) - min(pt, tt)
    if kind == "giou":
        c = cw * ch
        return iou - (c - union) / c if c > 0 else iou
    c2 = cw * cw + ch * ch
    rho2 = (p[0] - t[0]) ** 2 + (p[1] - t[1]) ** 2
    diou = iou - rho2 / c2 if c2 > 0 else iou
    if kind == "diou":
        return diou
    v = 4 / math.pi ** 2 * (math.atan(t[2] / t[3]) - math.atan(p[2] / p[3])) ** 2
    if alpha is None:
        alpha = v / (1 - iou + v) if v > 0 else 0.0
    return diou - alpha * v


def measure_gradient(p, t, kind):
    alpha = None
    if kind == "ciou":
        iou = measure(p, t, "iou")
        v = 4 / math.pi ** 2 * (math.atan(t[2] / t[3]) - math.atan(p[2] / p[3])) ** 2
        alpha = v / (1 - iou + v) if v > 0 else 0.0
    g = []
    h = 1e-7
    for e in range(4):
        up = list(p)
        dn = list(p)
        up[e] += h
        dn[e] -= h
        g.append((measure(up, t, kind, alpha) - measure(dn, t, kind, alpha)) / (2 * h))
    return g


class Head:
    def __init__(self, spec, net_w, net_h):
        a = dict(spec["attrs"])
        if a["max_delta"] is None:  # JSON has no infinity: null means no clip
            a["max_delta"] = math.inf
        self.a = a
        self.n, self.c, self.h, self.w = spec["shape"]
        self.classes = a["classes"]
        self.mask = a["mask"]
        self.anchors = a["anchors"]
        self.net_w, self.net_h = net_w, net_h
        raw = np.array(spec["input"], dtype=np.float64).reshape(self.n, len(self.mask), self.classes + 5, self.h, self.w)
        out = raw.copy()
        if not a["new_coords"]:
            out[:, :, 0:2] = logistic(raw[:, :, 0:2])
            out[:, :, 4:] = logistic(raw[:, :, 4:])
        s = a["scale_x_y"]
        out[:, :, 0:2] = out[:, :, 0:2] * s - (s - 1) / 2
        self.out = out
        self.delta = np.zeros_like(out)
        counts = a["counters_per_class"]
        self.mult = None
        if counts:
            self.mult = [min(max(counts) / c, a["max_delta"]) for c in counts]
        self.positives = 0
        self.iou_sum = 0.0

    def m(self, cls):
        return self.mult[cls] if self.mult else 1.0

    def pred_box(self, b, n, anchor, j, i):
        o = self.out[b, n]
        if self.a["new_coords"]:
            w = o[2, j, i] ** 2 * 4 * self.anchors[2 * anchor] / self.net_w
            h = o[3, j, i] ** 2 * 4 * self.anchors[2 * anchor + 1] / self.net_h
        else:
            w = math.exp(o[2, j, i]) * self.anchors[2 * anchor] / self.net_w
            h = math.exp(o[3, j, i]) * self.anchors[2 * anchor + 1] / self.net_h
        return [(i + o[0, j, i]) / self.w, (j + o[1, j, i]) / self.h, w, h]

    def box_delta(self, b, n, anchor, j, i, t, normalizer):
        a = self.a
        o, d = self.out[b, n], self.delta[b, n]
        pred = self.pred_box(b, n, anchor, j, i)
        iou = measure(pred, t, "iou")
        aw, ah = self.anchors[2 * anchor], self.anchors[2 * anchor + 1]
        if a["iou_loss"] == "mse":
            tx, ty = t[0] * self.w - i, t[1] * self.h - j
            if a["new_coords"]:
                tw, th = math.sqrt(t[2] * self.net_w / (4 * aw)), math.sqrt(t[3] * self.net_h / (4 * ah))
            else:
                tw, th = math.log(t[2] * self.net_w / aw), math.log(t[3] * self.net_h / ah)
            weight = 2 - t[2] * t[3]
            for e, target in enumerate((tx, ty, tw, th)):
                d[e, j, i] += weight * (target - o[e, j, i]) * normalizer
            return iou
        if pred[2] == 0:
            pred[2] = 1.0
        if pred[3] == 0:
            pred[3] = 1.0
        g = measure_gradient(pred, t, a["iou_loss"])
        if not a["new_coords"]:
            g[2] *= math.exp(o[2, j, i])
            g[3] *= math.exp(o[3, j, i])
        for e in range(4):
            v = g[e] * normalizer
            if not math.isfinite(v):
                v = 0.0
            v = max(-a["max_delta"], min(a["max_delta"], v))
            d[e, j, i] += v
        return iou

    def class_delta(self, b, n, j, i, cls):
        a = self.a
        o, d = self.out[b, n], self.delta[b, n]
        eps = a["label_smooth_eps"]

        def target(y):
            return y * (1 - eps) + 0.5 * eps if eps else y

        if d[5 + cls, j, i] != 0:
            d[5 + cls, j, i] = (target(1.0) - o[5 + cls, j, i]) * self.m(cls)
            return
        if a["focal_loss"]:
            pt = o[5 + cls, j, i] + 1e-15
            grad = -(1 - pt) * (2 * pt * math.log(pt) + pt - 1)
            for c in range(self.classes):
                d[5 + c, j, i] = ((1.0 if c == cls else 0.0) - o[5 + c, j, i]) * 0.5 * grad
            return
        for c in range(self.classes):
            d[5 + c, j, i] = target(1.0 if c == cls else 0.0) - o[5 + c, j, i]
        if self.mult:
            d[5 + cls, j, i] *= self.m(cls) * a["cls_normalizer"]

    def image(self, b, truths):
        a = self.a
        valid = [t for t in truths if 0 <= t[4] < self.classes and t[2] > 0 and t[3] > 0]
        for j in range(self.h):
            for i in range(self.w):
                for n in range(len(self.mask)):
                    self.slot(b, n, j, i, valid)
        for t in valid:
            self.truth(b, t)
        # collisions: average the box delta over the slot's positive classes
        for n in range(len(self.mask)):
            d = self.delta[b, n]
            for j in range(self.h):
                for i in range(self.w):
                    if d[4, j, i] != 0:
                        k = int(np.sum(d[5:, j, i] > 0))
                        if k > 0:
                            d[0:4, j, i] /= k

    def slot(self, b, n, j, i, truths):
        a = self.a
        o, d = self.out[b, n], self.delta[b, n]
        pred = self.pred_box(b, n, self.mask[n], j, i)
        any_class = bool(np.any(o[5:, j, i] > 0.25))
        best_match, best, best_t = 0.0, 0.0, None
        for t in truths:
            iou = measure(pred, t[:4], "iou")
            if iou > best_match and any_class:
                best_match = iou
            if iou > best:
                best, best_t = iou, t
        p = o[4, j, i]
        d[4, j, i] = a["obj_normalizer"] * (0 - p)
        if best_match > a["ignore_thresh"]:
            d[4, j, i] = max(d[4, j, i], a["obj_normalizer"] * (best_match - p)) if a["objectness_smooth"] else 0.0
        if best > a["truth_thresh"]:
            tgt = best * best if a["objectness_smooth"] else 1.0
            d[4, j, i] = a["obj_normalizer"] * (tgt - p)
            cls = best_t[4]
            self.class_delta(b, n, j, i, cls)
            if a["objectness_smooth"]:
                d[5 + cls, j, i] = self.m(cls) * (tgt - o[5 + cls, j, i])
            self.box_delta(b, n, self.mask[n], j, i, best_t[:4], a["iou_normalizer"] * self.m(cls))

    def truth(self, b, t):
        a = self.a
        i = min(max(int(t[0] * self.w), 0), self.w - 1)
        j = min(max(int(t[1] * self.h), 0), self.h - 1)
        shape = [0, 0, t[2], t[3]]

        def anchor_box(k):
            return [0, 0, self.anchors[2 * k] / self.net_w, self.anchors[2 * k + 1] / self.net_h]

        num = len(self.anchors) // 2
        best_iou, best = 0.0, 0
        for k in range(num):
            iou = measure(anchor_box(k), shape, "iou")
            if iou > best_iou:
                best_iou, best = iou, k
        for k in range(num):
            if k not in self.mask:
                continue
            extra = k != best and a["iou_thresh"] < 1 and \
                measure(anchor_box(k), shape, a["iou_thresh_kind"]) > a["iou_thresh"]
            if k == best or extra:
                self.positive(b, self.mask.index(k), k, j, i, t)

    def positive(self, b, n, anchor, j, i, t):
        a = self.a
        cls = t[4]
        iou = self.box_delta(b, n, anchor, j, i, t[:4], a["iou_normalizer"] * self.m(cls))
        o, d = self.out[b, n], self.delta[b, n]
        target = self.m(cls) * a["obj_normalizer"] * (1 - o[4, j, i])
        if not a["objectness_smooth"] or d[4, j, i] == 0:
            d[4, j, i] = target
        self.class_delta(b, n, j, i, cls)
        self.positives += 1
        self.iou_sum += iou

    def result(self, grad_scale):
        d = self.delta
        return {
            "grad": (-d * grad_scale * self.a["delta_normalizer"]).reshape(-1).tolist(),
            "box": float(np.sum(d[:, :, 0:4] ** 2)),
            "obj": float(np.sum(d[:, :, 4] ** 2)),
            "cls": float(np.sum(d[:, :, 5:] ** 2)),
            "loss": float(np.sum(d ** 2)),
            "positives": self.positives,
            "iou_sum": self.iou_sum,
        }


def run_case(case):
    heads = []
    for spec in case["heads"]:
        head = Head(spec, case["net_w"], case["net_h"])
        for b, truths in enumerate(case["truths"]):
            head.image(b, truths)
        heads.append(head.result(case["grad_scale"]))
    return {"heads": heads}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    with open(sys.argv[2], "w") as f:
        json.dump({"cases": [run_case(c) for c in cases]}, f)


if __name__ == "__main__":
    main()
