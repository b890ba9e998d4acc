#!/usr/bin/env python3
"""Self-check of the training oracle: its float64 forward in inference mode
(running statistics) against `cspnet predict --dump` on the same weights and
image, for the network's output and for its logits (the cfg cut before the
last [softmax]). Catches semantic mismatches before any gradient is compared.

    check_oracle_forward.py [--cspnet build/cspnet] [--seed 7] [CFG]

CFG defaults to tests/cfg/train_every_layer.cfg. Prints max |diff| / max |ref|
and the elementwise relative error per output; exits 1 above --tolerance.
"""
from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import torch_training_oracle as oracle  # noqa: E402

dt = oracle.dt


def compare(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    diff = np.abs(ours - ref)
    scale = np.abs(ref).max()
    return float(diff.max() / max(scale, 1e-30)), float((diff / np.maximum(np.abs(ref), 1e-3 * scale)).max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cfg", nargs="?", default=os.path.join(ROOT, "tests", "cfg", "train_every_layer.cfg"))
    ap.add_argument("--cspnet", default=os.path.join(ROOT, "build", "cspnet"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    sections = dt.parse_cfg(args.cfg)
    probe = dt.DarknetNet(dt.parse_cfg(args.cfg))
    c, h, w = probe.channels, probe.height, probe.width
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="oracle-forward-") as work:
        weights = os.path.join(work, "net.weights")
        subprocess.run([args.cspnet, "init", args.cfg, weights, "--seed", str(args.seed)], check=True,
                       capture_output=True)
        rng = np.random.default_rng(args.seed)
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        image = os.path.join(work, "input.bmp")
        dt.write_bmp(image, pixels)
        x = torch.from_numpy(pixels.astype(np.float64) / 255.0).permute(2, 0, 1)[None].contiguous()
        if c == 1:
            x = x.mean(dim=1, keepdim=True)
        net = oracle.TrainingNet(args.cfg, weights, h, w, c)
        net.model.eval()
        with torch.no_grad():
            logits, out = net.forward(x)
        refs = {"output": out.numpy(), "logits": logits.numpy()}
        # The logits: the cfg cut before the last [softmax], with the weights' prefix.
        cut = [v for v in dt._variants(args.cfg, sections) if v[0].startswith("logits")][-1]
        cut_cfg = os.path.join(work, "logits.cfg")
        with open(cut_cfg, "w", encoding="utf-8") as f:
            f.write(cut[1])
        cut_weights = os.path.join(work, "logits.weights")
        with open(weights, "rb") as f:
            data = f.read()
        major, minor = struct.unpack_from("<2i", data, 0)
        offset = 20 if major * 10 + minor >= 2 and major < 1000 else 16
        floats = dt.DarknetNet(dt.parse_cfg(cut_cfg)).darknet_float_count()
        with open(cut_weights, "wb") as f:
            f.write(data[:offset + 4 * floats])
        for label, cfg, wts in (("output", args.cfg, weights), ("logits", cut_cfg, cut_weights)):
            dump = os.path.join(work, label + ".npy")
            subprocess.run([args.cspnet, "--threads", "1", "predict", cfg, image, "--weights", wts, "--dump", dump],
                           check=True, capture_output=True)
            ours = np.load(dump).astype(np.float64).reshape(refs[label].shape)
            rel_to_max, rel = compare(ours, refs[label])
            worst = max(worst, rel_to_max)
            print(f"{os.path.basename(args.cfg)} {label:<7} shape {tuple(ours.shape)}: "
                  f"max|diff|/max|ref| {rel_to_max:.2e}, max elementwise rel {rel:.2e}")
    ok = worst <= args.tolerance
    print(f"worst {worst:.2e} (tolerance {args.tolerance:g}): {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
