#!/usr/bin/env python3
"""Reference training steps for a darknet cfg, in float64 PyTorch.

Builds the network of CFG with bench/darknet_torch.py (darknet's layer
semantics: maxpool padding, shortcut, route groups, upsample, sam,
scale_channels, Maxout, logistic default activation), loads WEIGHTS, casts
everything to float64 and runs STEPS training steps on one batch, with
autograd for the gradients. It is the reference the C++ training test
compares the TrainingExecutor against.

Usage:
    torch_training_oracle.py CFG WEIGHTS INPUT.npy TARGETS.npy OUT_DIR
        [--lr LR] [--momentum M] [--decay D] [--steps 3]
        [--dropout-mask LAYER=MASK.npy ...] [--threads 1]

INPUT.npy: N x C x H x W float32 (or float64); the network is built for H x W.
TARGETS.npy: N x classes probability rows (one-hot, smoothed or mixed).
--lr/--momentum/--decay default to the cfg's [net] learning_rate, momentum
and decay and are used AS IS, as PyTorch's SGD numbers (no scaling by batch).

Training semantics (what the engine must match):
- Batch norm (convolutional and connected): normalises with the batch mean
  and the BIASED batch variance, (x - mean) / sqrt(var + 1e-5) * scales +
  biases (the biases = BN beta, added after the normalisation); running
  statistics updated as running = 0.99 * running + 0.01 * batch, the
  variance statistic being the UNBIASED one (N-1, N = batch*H*W).
  This is F.batch_norm(training=True, momentum=0.01, eps=1e-5).
- [dropout]: the identity (whatever its probability), unless a mask is given
  with --dropout-mask LAYER=FILE: then the layer's output is input * mask,
  mask of the layer's output shape (N x C x H x W) holding 0 or 1/(1-p);
  the same mask is used in every step. tests/cfg/train_every_layer.cfg uses
  probability=0, which makes the engine's dropout the identity too.
- [cost]: the identity. Loss = mean over the batch of
  -sum_k target[k] * log_softmax(logits)[k], logits = the input of the
  last [softmax] layer (groups=1; divided by its temperature).
- Optimiser: torch.optim.SGD(lr, momentum, dampening=0, nesterov=False),
  weight decay only on convolution and connected weights (not on biases or
  batch-norm scales): g += decay * w; buf = momentum * buf + g (buf = g at
  the first step); w -= lr * buf. Each step: zero grads, forward on the same
  batch, loss, backward, update.

Output (OUT_DIR; every .npy is little-endian float64, C order, npy v1.0):
  manifest.json            what was run: cfg, weights, shapes, lr, momentum,
                           decay, steps, losses, header, and per parameter
                           layer: index, kind, param names and shapes
  losses.json              {"losses": [loss before update 1, 2, ...]}
  eval_output.npy          the last layer's output for INPUT in inference
                           mode (running statistics), before any step
  eval_logits.npy          the logits in inference mode, before any step
  step1_logits.npy         the logits of step 1 (training mode)
  step1_grads/layer_<i>_<name>.npy      dL/d(param) of step 1 (before the
                           update), <name> in biases, scales, weights; darknet
                           layouts: conv weights [filters][channels/groups]
                           [size][size], connected weights [outputs][inputs]
  step1_running/layer_<i>_rolling_mean.npy, layer_<i>_rolling_variance.npy
                           running statistics after step 1's forward
  final/layer_<i>_<name>.npy            every darknet array (biases, scales,
                           rolling_mean, rolling_variance, weights) after all
                           steps
  final.weights            the same as darknet .weights, with the input
                           file's header (version and `seen`) unchanged
<i> is the layer's index (0 = the first section after [net]), unpadded.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import darknet_torch as dt  # noqa: E402


def named_darknet_arrays(layer) -> list[tuple[str, torch.Tensor, bool]]:
    """(darknet name, tensor, trained) in .weights order."""
    if isinstance(layer, dt.Conv):
        if layer.bn is not None:
            return [("biases", layer.bn.bias, True), ("scales", layer.bn.weight, True),
                    ("rolling_mean", layer.bn.running_mean, False),
                    ("rolling_variance", layer.bn.running_var, False), ("weights", layer.conv.weight, True)]
        return [("biases", layer.conv.bias, True), ("weights", layer.conv.weight, True)]
    if isinstance(layer, dt.Connected):
        if layer.bn is not None:
            return [("biases", layer.bn.bias, True), ("weights", layer.fc.weight, True),
                    ("scales", layer.bn.weight, True), ("rolling_mean", layer.bn.running_mean, False),
                    ("rolling_variance", layer.bn.running_var, False)]
        return [("biases", layer.fc.bias, True), ("weights", layer.fc.weight, True)]
    raise TypeError(f"no darknet arrays for {type(layer).__name__}")


class TrainingNet:
    """A DarknetNet in float64 run with the oracle's training semantics."""

    def __init__(self, cfg: str, weights: str, height: int, width: int, channels: int):
        self.model = dt.DarknetNet(dt.parse_cfg(cfg), width=width, height=height, channels=channels)
        if self.model.channels != channels:
            raise ValueError(f"{cfg}: the network takes {self.model.channels} channels, the input has {channels}")
        self.header = self.model.load_darknet_weights(weights)
        self.model.double()
        kinds = self.model.kinds
        softmaxes = [i for i, k in enumerate(kinds) if k in ("softmax", "soft")]
        if not softmaxes:
            raise ValueError(f"{cfg}: no [softmax] layer: the oracle's loss is softmax cross-entropy")
        self.softmax_index = softmaxes[-1]
        softmax = self.model.layers[self.softmax_index]
        if softmax.groups != 1:
            raise ValueError(f"{cfg}: layer {self.softmax_index} [softmax] groups={softmax.groups}, expected 1")
        self.dropout_masks: dict[int, torch.Tensor] = {}

    def set_dropout_mask(self, layer: int, mask: np.ndarray):
        if not 0 <= layer < len(self.model.layers) or self.model.kinds[layer] != "dropout":
            raise ValueError(f"--dropout-mask: layer {layer} is not a [dropout] layer")
        self.dropout_masks[layer] = torch.from_numpy(np.asarray(mask, dtype=np.float64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, last layer's output). Keeps every value: the net is small."""
        values: list[torch.Tensor] = []
        for i, layer in enumerate(self.model.layers):
            ins = [x if j < 0 else values[j] for j in self.model.sources[i]]
            y = layer(*ins)
            if i in self.dropout_masks:
                mask = self.dropout_masks[i]
                if tuple(mask.shape) != tuple(y.shape):
                    raise ValueError(f"dropout mask for layer {i} is {tuple(mask.shape)}, output is {tuple(y.shape)}")
                y = y * mask
            values.append(y)
        softmax = self.model.layers[self.softmax_index]
        logits = values[self.model.sources[self.softmax_index][0]]
        logits = torch.flatten(logits, 1)
        if softmax.temperature != 1.0:
            logits = logits / softmax.temperature
        return logits, values[-1]

    def parameter_layers(self):
        return self.model.parameter_layers()


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def save(path: str, t) -> None:
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    np.save(path, np.ascontiguousarray(a, dtype="<f8"))


def write_weights(path: str, net: TrainingNet, header: dict) -> None:
    major, minor = header["major"], header["minor"]
    seen64 = major * 10 + minor >= 2 and major < 1000
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<3i", major, minor, header["revision"]))
        f.write(struct.pack("<Q" if seen64 else "<I", header["seen"]))
        for _, layer in net.parameter_layers():
            for _, t, _ in named_darknet_arrays(layer):
                f.write(t.detach().cpu().numpy().astype("<f4").tobytes())
    os.replace(tmp, path)


def run(args) -> dict:
    x_np = np.load(args.input)
    t_np = np.load(args.targets)
    if x_np.ndim != 4:
        raise ValueError(f"{args.input}: expected N x C x H x W, got shape {x_np.shape}")
    n, c, h, w = x_np.shape
    if t_np.ndim != 2 or t_np.shape[0] != n:
        raise ValueError(f"{args.targets}: expected {n} x classes, got shape {t_np.shape}")
    net = TrainingNet(args.cfg, args.weights, h, w, c)
    classes = net.model.shapes[net.softmax_index]
    classes = classes[0] * classes[1] * classes[2]
    if t_np.shape[1] != classes:
        raise ValueError(f"{args.targets}: {t_np.shape[1]} classes, the network has {classes}")
    for spec in args.dropout_mask:
        layer, _, path = spec.partition("=")
        net.set_dropout_mask(int(layer), np.load(path))

    net_section = dt.parse_cfg(args.cfg)[0]
    lr = args.lr if args.lr is not None else net_section.get_float("learning_rate", 0.001)
    momentum = args.momentum if args.momentum is not None else net_section.get_float("momentum", 0.9)
    decay = args.decay if args.decay is not None else net_section.get_float("decay", 0.0001)

    x = torch.from_numpy(x_np.astype(np.float64))
    targets = torch.from_numpy(t_np.astype(np.float64))
    os.makedirs(args.out, exist_ok=True)
    for sub in ("step1_grads", "step1_running", "final"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)

    model = net.model
    model.eval()
    with torch.no_grad():
        logits, out = net.forward(x)
    save(os.path.join(args.out, "eval_logits.npy"), logits)
    save(os.path.join(args.out, "eval_output.npy"), out)

    decayed, plain = [], []
    layers_info = []
    for i, layer in net.parameter_layers():
        arrays = named_darknet_arrays(layer)
        for name, t, trained in arrays:
            if trained:
                (decayed if name == "weights" else plain).append(t)
        layers_info.append({"index": i, "kind": model.kinds[i],
                            "params": [{"name": name, "shape": list(t.shape), "trained": trained}
                                       for name, t, trained in arrays]})
    optimiser = torch.optim.SGD([{"params": decayed, "weight_decay": decay},
                                 {"params": plain, "weight_decay": 0.0}],
                                lr=lr, momentum=momentum, dampening=0.0, nesterov=False)

    model.train()
    losses = []
    for step in range(1, args.steps + 1):
        optimiser.zero_grad(set_to_none=False)
        logits, _ = net.forward(x)
        loss = cross_entropy(logits, targets)
        loss.backward()
        losses.append(float(loss))
        if step == 1:
            save(os.path.join(args.out, "step1_logits.npy"), logits)
            for i, layer in net.parameter_layers():
                for name, t, trained in named_darknet_arrays(layer):
                    if trained:
                        save(os.path.join(args.out, "step1_grads", f"layer_{i}_{name}.npy"), t.grad)
                    else:
                        save(os.path.join(args.out, "step1_running", f"layer_{i}_{name}.npy"), t)
        optimiser.step()

    for i, layer in net.parameter_layers():
        for name, t, _ in named_darknet_arrays(layer):
            save(os.path.join(args.out, "final", f"layer_{i}_{name}.npy"), t)
    write_weights(os.path.join(args.out, "final.weights"), net, net.header)

    manifest = {
        "cfg": os.path.abspath(args.cfg), "weights": os.path.abspath(args.weights),
        "input_shape": [n, c, h, w], "classes": classes, "softmax_layer": net.softmax_index,
        "lr": lr, "momentum": momentum, "decay": decay, "steps": args.steps,
        "losses": losses, "header": net.header,
        "dropout_masks": {str(k): True for k in net.dropout_masks},
        "torch": torch.__version__, "layers": layers_info,
    }
    with open(os.path.join(args.out, "losses.json"), "w", encoding="utf-8") as f:
        json.dump({"losses": losses}, f, indent=1)
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cfg")
    ap.add_argument("weights")
    ap.add_argument("input", help="N x C x H x W .npy")
    ap.add_argument("targets", help="N x classes .npy")
    ap.add_argument("out", help="output folder (created)")
    ap.add_argument("--lr", type=float, help="default: [net] learning_rate")
    ap.add_argument("--momentum", type=float, help="default: [net] momentum")
    ap.add_argument("--decay", type=float, help="default: [net] decay")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--dropout-mask", action="append", default=[], metavar="LAYER=FILE.npy")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error("--steps must be at least 1")
    torch.set_num_threads(args.threads)
    try:
        manifest = run(args)
    except (ValueError, OSError) as e:
        print(f"torch_training_oracle: {e}", file=sys.stderr)
        return 1
    print(" ".join(f"{v:.9g}" for v in manifest["losses"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
