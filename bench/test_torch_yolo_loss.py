#!/usr/bin/env python3
"""bench/torch_yolo_loss.py (float32, vectorised) against the float64
[yolo] oracle tests/oracle/yolo_loss_oracle.py on random head inputs and
truths: loss and its box/objectness/class parts to 1e-4 relative, the
positives count, their summed IoU, and every input gradient to 1e-4 of
max(|oracle|, 1% of the head's largest gradient) (float32 activations put
~1e-7 absolute noise on deltas near zero, as in the C++ oracle test).

Cases: the option sets the C++ oracle test uses (those the torch loss
supports), and the [yolo] sections of cfg/csp-detector-small.cfg and
../shared/cfg/csdarknet53-panet-spp.cfg as written. A final check perturbs
one option on the torch side and requires the comparison to fail, and the
order-dependent options must be refused.

Run: .venv-bench/bin/python bench/test_torch_yolo_loss.py   (or pytest)
"""
from __future__ import annotations

import copy
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))

import torch_yolo_loss as tyl  # noqa: E402
import yolo_loss_oracle as oracle  # noqa: E402

TOLERANCE = 1e-4
FLOOR_SHARE = 1e-2
NET = 64
ANCHORS = [6, 8, 12, 10, 16, 24, 30, 20, 40, 50, 60, 48]

BASE = {"classes": 3, "num": 6, "anchors": ANCHORS, "scale_x_y": 1.0, "new_coords": False, "ignore_thresh": 0.5,
        "truth_thresh": 1.0, "iou_thresh": 1.0, "iou_thresh_kind": "iou", "iou_loss": "mse",
        "iou_normalizer": 0.75, "obj_normalizer": 1.0, "cls_normalizer": 1.0, "delta_normalizer": 1.0,
        "max_delta": None, "label_smooth_eps": 0.0, "counters_per_class": [], "focal_loss": False,
        "objectness_smooth": False}

# (name, changed options, grad_scale), after tests/oracle/test_yolo_loss_oracle.cpp
CASES = [
    ("MseDefaults", {}, 1.0),
    ("MseScaleXYLabelSmoothingIgnore", {"scale_x_y": 1.2, "ignore_thresh": 0.3, "label_smooth_eps": 0.1}, 0.5),
    ("Giou", {"iou_loss": "giou", "iou_normalizer": 0.5, "ignore_thresh": 0.4}, 0.5),
    ("DiouMaxDelta", {"iou_loss": "diou", "max_delta": 0.05}, 0.5),
    ("CiouIouThreshCiou", {"iou_loss": "ciou", "iou_normalizer": 0.07, "iou_thresh": 0.213,
                           "iou_thresh_kind": "ciou"}, 0.5),
    ("MseIouThreshGiou", {"iou_thresh": 0.3, "iou_thresh_kind": "giou"}, 0.5),
    ("IouLossIouThreshDiou", {"iou_loss": "iou", "iou_thresh": 0.25, "iou_thresh_kind": "diou"}, 0.5),
    ("NewCoordsMse", {"scale_x_y": 2.0, "new_coords": True}, 0.5),
    ("NewCoordsCiou", {"scale_x_y": 2.0, "iou_loss": "ciou", "iou_normalizer": 0.1, "new_coords": True}, 0.5),
    ("TruthThresh", {"truth_thresh": 0.45, "ignore_thresh": 0.3}, 0.5),
    ("Normalizers", {"obj_normalizer": 2.0, "delta_normalizer": 0.5, "iou_normalizer": 0.3}, 0.25),
]


def random_truths(rng, classes, images=2):
    truths = []
    for _ in range(images):
        count = 3 + int(rng.integers(0, 6))
        boxes = [[*np.float32(rng.uniform(0.05, 0.95, 2)), *np.float32(rng.uniform(0.03, 0.7, 2)),
                  int(rng.integers(0, classes))] for _ in range(count)]
        truths.append([[float(v) for v in b[:4]] + [b[4]] for b in boxes])
    truths[1].append([0.5, 0.5, 0.2, 0.2, classes])  # class id out of range: skipped
    truths[0].append(list(truths[0][0]))  # a duplicate: the same slot claimed twice
    return truths


def random_heads(rng, attrs_list, sides, images=2):
    """Raw head inputs, float32, as the C++ test draws them."""
    heads = []
    for a, side in zip(attrs_list, sides):
        shape = (images, len(a["mask"]) * (a["classes"] + 5), side, side)
        low, high = (0.02, 0.98) if a["new_coords"] else (-2.5, 2.5)
        heads.append(rng.uniform(low, high, size=shape).astype(np.float32))
    return heads


def with_inf(a):
    a = dict(a)
    if a["max_delta"] is None:
        a["max_delta"] = math.inf
    return a


def compare(attrs_list, sides, grad_scale, seed, torch_attrs=None, net=NET):
    """Max relative error of every compared figure (0 when equal), and a
    list of what exceeded the tolerance."""
    rng = np.random.default_rng(seed)
    truths = random_truths(rng, min(a["classes"] for a in attrs_list))
    raws = random_heads(rng, attrs_list, sides)
    case = {"net_w": net, "net_h": net, "grad_scale": grad_scale, "truths": truths,
            "heads": [{"attrs": a, "shape": list(r.shape), "input": r.reshape(-1).astype(np.float64).tolist()}
                      for a, r in zip(attrs_list, raws)]}
    want = oracle.run_case(case)["heads"]

    xs = [torch.from_numpy(r).requires_grad_(True) for r in raws]
    stats = []
    heads = [with_inf(a) for a in (torch_attrs or attrs_list)]
    loss = tyl.yolo_loss(xs, heads, tyl.pack_truths(truths), net, net, grad_scale, stats_out=stats)
    loss.backward()
    failures, worst = [], 0.0
    for h, (w, s, x) in enumerate(zip(want, stats, xs)):
        for key, ours in (("loss", s["loss"]), ("box", s["box"]), ("obj", s["obj"]), ("cls", s["cls"])):
            ref = w[key]
            err = abs(float(ours) - ref) / max(abs(ref), 1e-12)
            worst = max(worst, err)
            if err > TOLERANCE:
                failures.append(f"head {h} {key}: torch {float(ours):.9g}, oracle {ref:.9g} (rel {err:.2e})")
        if s["positives"] != w["positives"]:
            failures.append(f"head {h} positives: torch {s['positives']}, oracle {w['positives']}")
        if abs(float(s["iou_sum"]) - w["iou_sum"]) > 1e-5 * max(1.0, w["iou_sum"]):
            failures.append(f"head {h} iou_sum: torch {float(s['iou_sum']):.9g}, oracle {w['iou_sum']:.9g}")
        ref = np.array(w["grad"])
        ours = x.grad.double().numpy().reshape(-1)
        scale = np.abs(ref).max()
        rel = np.abs(ours - ref) / np.maximum(np.abs(ref), FLOOR_SHARE * scale)
        worst = max(worst, float(rel.max()))
        if rel.max() > TOLERANCE:
            k = int(rel.argmax())
            failures.append(f"head {h} gradient[{k}]: torch {ours[k]:.9g}, oracle {ref[k]:.9g} (rel {rel[k]:.2e}); "
                            f"{int((rel > TOLERANCE).sum())} elements off")
    positives = sum(w["positives"] for w in want)
    return worst, failures, positives


def option_cases():
    """(name, head attrs, head sides, grad_scale): two heads, 8x8 and 4x4."""
    out = []
    for name, changes, grad_scale in CASES:
        heads = []
        for mask in ([0, 1, 2], [3, 4, 5]):
            a = copy.deepcopy(BASE)
            a.update(changes)
            a["mask"] = mask
            heads.append(a)
        out.append((name, heads, [8, 4], grad_scale))
    for cfg in (os.path.join(ROOT, "cfg", "csp-detector-small.cfg"),
                os.path.join(ROOT, "..", "shared", "cfg", "csdarknet53-panet-spp.cfg")):
        if not os.path.exists(cfg):
            print(f"skipped (missing): {cfg}")
            continue
        heads = tyl.yolo_heads_from_cfg(cfg)
        for a in heads:
            a["max_delta"] = None if math.isinf(a["max_delta"]) else a["max_delta"]
        # strides 8, 16, 32 at a 128x128 input; the anchors stay in the cfg's pixels
        out.append((os.path.basename(cfg), heads, [16, 8, 4], 1 / 2))
    return out


def check_all(verbose=True):
    failed = []
    for k, (name, heads, sides, grad_scale) in enumerate(option_cases()):
        net = 128 if len(sides) == 3 else NET
        worst, failures, positives = compare(heads, sides, grad_scale, seed=100 + k, net=net)
        if positives == 0:
            failures.append("no positives: the case tests nothing")
        if verbose:
            print(f"{name:<32} worst relative error {worst:.2e}, {positives} positives: "
                  f"{'FAIL' if failures else 'ok'}")
            for f in failures:
                print(f"    {f}")
        if failures:
            failed.append(name)
    return failed


def test_matches_the_float64_oracle():
    assert check_all(verbose=False) == []


def test_a_wrong_option_is_detected():
    """The comparison can fail: the torch side with a different option."""
    heads = option_cases()[4][1]  # CiouIouThreshCiou
    for key, value in (("ignore_thresh", 0.4), ("scale_x_y", 1.05), ("iou_normalizer", 0.0701),
                       ("iou_thresh", 1.0), ("label_smooth_eps", 0.01)):
        wrong = [dict(a, **{key: value}) for a in heads]
        _, failures, _ = compare(heads, [8, 4], 0.5, seed=104, torch_attrs=wrong)
        assert failures, f"{key}={value} went unnoticed"


def test_order_dependent_options_are_refused():
    for key, value in (("focal_loss", True), ("counters_per_class", [1, 2, 3]), ("objectness_smooth", True)):
        a = with_inf(dict(BASE, mask=[0, 1, 2], **{key: value}))
        try:
            tyl.check_supported(a)
        except NotImplementedError:
            continue
        raise AssertionError(f"{key} accepted")


def main():
    torch.set_num_threads(2)
    failed = check_all()
    test_a_wrong_option_is_detected()
    print("a perturbed option on the torch side is detected: ok")
    test_order_dependent_options_are_refused()
    print("focal_loss, counters_per_class, objectness_smooth refused: ok")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print("all cases match the float64 oracle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
