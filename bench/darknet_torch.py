#!/usr/bin/env python3
"""darknet .cfg + .weights -> a PyTorch nn.Module, written from darknet's
semantics (see ../shared/darknet-notes.md), not from another project.

Importable (the training oracle reuses it):

    from darknet_torch import build_model
    model = build_model("net.cfg", "net.weights", width=256, height=256)
    out = model(x)          # x: N x C x H x W float32, pixels in [0, 1]

`model(x)` returns the raw input of every [yolo] layer (a tuple, or the tensor
when there is one), else the last layer's output, as cspnet's executor does.
[yolo] is the identity by default (decoding is not part of the network);
`DarknetNet(..., yolo_activations=True)` applies darknet's inference-time
head activations (logistic on x, y, objectness and classes, scale_x_y), so
the output equals what `cspnet predict --dump` writes.

Numerics: batch norm eps 1e-5 (darknet's). BatchNorm modules get momentum
0.01, darknet's running-average rate; note that PyTorch normalises a training
batch with the biased variance where darknet uses the unbiased one.

Run as a script:
    darknet_torch.py --check [--cspnet build/cspnet] [CFG ...]
compares this builder against `cspnet predict --dump` on the same weights and
input (see check_against_cspnet).
"""
from __future__ import annotations

import argparse
import math
import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-5
BN_MOMENTUM = 0.01
SELU_ALPHA = 1.6732  # darknet's rounded constants
SELU_SCALE = 1.0507


# ----------------------------------------------------------------------------
# cfg text


@dataclass
class Section:
    name: str
    line: int
    options: dict = field(default_factory=dict)
    used: set = field(default_factory=set)
    path: str = ""

    def where(self, key=None):
        at = f"{self.path}:{self.line}: [{self.name}]"
        return f"{at} key '{key}'" if key else at

    def has(self, key):
        return key in self.options

    def get_str(self, key, default=None):
        self.used.add(key)
        if key not in self.options:
            if default is None:
                raise ValueError(f"{self.where()}: missing required key '{key}'")
            return default
        return self.options[key]

    def get_int(self, key, default=None):
        value = self.get_str(key, None if default is None else str(default))
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{self.where(key)}: expected an integer, got '{value}'") from None

    def get_float(self, key, default=None):
        value = self.get_str(key, None if default is None else repr(float(default)))
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{self.where(key)}: expected a number, got '{value}'") from None

    def get_ints(self, key):
        value = self.get_str(key)
        try:
            return [int(v) for v in value.split(",") if v != ""]
        except ValueError:
            raise ValueError(f"{self.where(key)}: expected integers separated by commas, got '{value}'") from None


def parse_cfg_text(text: str, path: str = "<cfg>") -> list[Section]:
    """darknet's reader: all whitespace removed from each line; '#' and ';'
    start comments; '[name]' opens a section; 'key=value' lines fill it."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            if line[-1] != "]":
                raise ValueError(f"{path}:{number}: malformed section header '{raw.strip()}'")
            sections.append(Section(line[1:-1], number, path=path))
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{number}: expected key=value, got '{raw.strip()}'")
        if not sections:
            raise ValueError(f"{path}:{number}: key=value before any [section]")
        key, value = line.split("=", 1)
        sections[-1].options[key] = value
    if not sections or sections[0].name not in ("net", "network"):
        raise ValueError(f"{path}: the first section must be [net]")
    return sections


def parse_cfg(path: str) -> list[Section]:
    with open(path, encoding="utf-8") as f:
        return parse_cfg_text(f.read(), path)


# ----------------------------------------------------------------------------
# activations


def activation_fn(name: str, where: str):
    """Darknet's activation as a function of a tensor. Written with ops that
    ONNX opset 13 exports (no F.mish / hardswish-style fused ops)."""
    if name == "linear":
        return None
    if name == "logistic":
        return torch.sigmoid
    if name == "relu":
        return F.relu
    if name == "relu6":
        return lambda x: torch.clamp(x, 0.0, 6.0)
    if name == "leaky":
        return lambda x: F.leaky_relu(x, 0.1)
    if name == "tanh":
        return torch.tanh
    if name == "elu":
        return F.elu
    if name == "selu":
        return lambda x: SELU_SCALE * torch.where(x >= 0, x, SELU_ALPHA * torch.expm1(x))
    if name == "swish":
        return lambda x: x * torch.sigmoid(x)
    if name == "mish":
        # softplus with darknet's linear cut-off above 20 (F.softplus's default).
        return lambda x: x * torch.tanh(F.softplus(x, beta=1.0, threshold=20.0))
    if name == "hard_mish":
        return lambda x: torch.where(x > 0, x, torch.where(x > -2, x * x / 2 + x, torch.zeros_like(x)))
    if name == "gelu":
        return lambda x: 0.5 * x * (1 + torch.tanh(0.797885 * x + 0.035677 * x * x * x))
    raise ValueError(f"{where}: unsupported activation '{name}'")


class Act(nn.Module):
    def __init__(self, name: str, where: str = ""):
        super().__init__()
        self.name = name
        self.fn = activation_fn(name, where)

    def forward(self, x):
        return x if self.fn is None else self.fn(x)

    def extra_repr(self):
        return self.name


# ----------------------------------------------------------------------------
# layers. Each has `sources` (input layer indices, -1 = the network input),
# `out_shape` (C, H, W) and, if it has parameters, `darknet_arrays()`: its
# tensors in .weights order.


class Conv(nn.Module):
    def __init__(self, s: Section, c, h, w):
        super().__init__()
        filters = s.get_int("filters", 1)
        size = s.get_int("size", 1)
        stride = s.get_int("stride", 1)
        stride_x = s.get_int("stride_x", stride)
        stride_y = s.get_int("stride_y", stride)
        pad = s.get_int("pad", 0) != 0
        padding = s.get_int("padding", size // 2 if pad else 0)
        groups = s.get_int("groups", 1)
        dilation = s.get_int("dilation", 1)
        self.batch_norm = s.get_int("batch_normalize", 0) != 0
        if c % groups or filters % groups:
            raise ValueError(f"{s.where('groups')}: {groups} must divide channels {c} and filters {filters}")
        self.conv = nn.Conv2d(c, filters, size, stride=(stride_y, stride_x), padding=padding,
                              dilation=dilation, groups=groups, bias=not self.batch_norm)
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS, momentum=BN_MOMENTUM) if self.batch_norm else None
        self.act = Act(s.get_str("activation", "logistic"), s.where("activation"))
        extent = (size - 1) * dilation + 1
        out_h = (h + 2 * padding - extent) // stride_y + 1
        out_w = (w + 2 * padding - extent) // stride_x + 1
        if out_h <= 0 or out_w <= 0:
            raise ValueError(f"{s.where()}: kernel extent {extent} larger than the padded input {h}x{w}")
        self.out_shape = (filters, out_h, out_w)

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)

    def darknet_arrays(self):
        if self.bn is not None:
            return [self.bn.bias, self.bn.weight, self.bn.running_mean, self.bn.running_var, self.conv.weight]
        return [self.conv.bias, self.conv.weight]


class Connected(nn.Module):
    def __init__(self, s: Section, c, h, w):
        super().__init__()
        outputs = s.get_int("output", 1)
        self.batch_norm = s.get_int("batch_normalize", 0) != 0
        self.fc = nn.Linear(c * h * w, outputs, bias=not self.batch_norm)
        self.bn = nn.BatchNorm1d(outputs, eps=BN_EPS, momentum=BN_MOMENTUM) if self.batch_norm else None
        self.act = Act(s.get_str("activation", "logistic"), s.where("activation"))
        self.out_shape = (outputs, 1, 1)

    def forward(self, x):
        x = self.fc(torch.flatten(x, 1))
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)[:, :, None, None]

    def darknet_arrays(self):
        if self.bn is not None:
            return [self.bn.bias, self.fc.weight, self.bn.weight, self.bn.running_mean, self.bn.running_var]
        return [self.fc.bias, self.fc.weight]


class MaxPool(nn.Module):
    """darknet: out = (in + padding - size) / stride + 1, padding defaults to
    size - 1, padding // 2 of it before, the rest after; padded cells never
    win the max. maxpool_depth=1: channel Maxout (strided groups)."""

    def __init__(self, s: Section, c, h, w):
        super().__init__()
        stride = s.get_int("stride", 1)
        self.size = s.get_int("size", stride)
        self.stride = (s.get_int("stride_y", stride), s.get_int("stride_x", stride))
        padding = s.get_int("padding", self.size - 1)
        self.depth = s.get_int("maxpool_depth", 0) != 0
        self.out_channels = s.get_int("out_channels", 1)
        if self.depth:
            if self.out_channels > c:
                raise ValueError(f"{s.where('out_channels')}: exceeds the input channels {c}")
            self.out_shape = (self.out_channels, h, w)
            return
        self.before = padding // 2
        self.after = padding - self.before
        out_h = (h + padding - self.size) // self.stride[0] + 1
        out_w = (w + padding - self.size) // self.stride[1] + 1
        if out_h <= 0 or out_w <= 0:
            raise ValueError(f"{s.where()}: pool window {self.size} larger than the padded input")
        self.out_shape = (c, out_h, out_w)
        # PyTorch pads symmetrically with -inf itself when it may (pad <= size/2).
        self.symmetric = self.before == self.after and 2 * self.before <= self.size

    def forward(self, x):
        if self.depth:
            n = self.out_channels
            return torch.cat([x[:, g::n].amax(dim=1, keepdim=True) for g in range(n)], dim=1)
        if self.symmetric:
            return F.max_pool2d(x, self.size, self.stride, padding=self.before)
        if self.before or self.after:
            x = F.pad(x, (self.before, self.after, self.before, self.after), value=-math.inf)
        return F.max_pool2d(x, self.size, self.stride)


class AvgPool(nn.Module):
    def __init__(self, s: Section, c, h, w):
        super().__init__()
        self.out_shape = (c, 1, 1)

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


class Upsample(nn.Module):
    def __init__(self, s: Section, c, h, w):
        super().__init__()
        stride = s.get_int("stride", 2)
        if stride == 0:
            raise ValueError(f"{s.where('stride')}: a non-zero stride")
        self.reverse = stride < 0
        self.stride = abs(stride)
        self.scale = s.get_float("scale", 1.0)
        if self.reverse:
            if h % self.stride or w % self.stride:
                raise ValueError(f"{s.where('stride')}: {self.stride} must divide {h}x{w}")
            self.out_shape = (c, h // self.stride, w // self.stride)
        else:
            self.out_shape = (c, h * self.stride, w * self.stride)

    def forward(self, x):
        if self.reverse:  # darknet sums stride x stride blocks
            x = F.avg_pool2d(x, self.stride) * float(self.stride * self.stride)
        else:
            x = F.interpolate(x, scale_factor=float(self.stride), mode="nearest")
        return x if self.scale == 1.0 else x * self.scale


class Route(nn.Module):
    def __init__(self, s: Section, shapes, sources):
        super().__init__()
        self.groups = s.get_int("groups", 1)
        self.group_id = s.get_int("group_id", 0)
        if self.groups <= 0 or not 0 <= self.group_id < self.groups:
            raise ValueError(f"{s.where('group_id')}: expected 0..groups-1")
        self.chunks = []
        h, w = shapes[0][1], shapes[0][2]
        for (c, hh, ww), src in zip(shapes, sources):
            if (hh, ww) != (h, w):
                raise ValueError(f"{s.where('layers')}: layer {src} is {hh}x{ww}, expected {h}x{w}")
            if c % self.groups:
                raise ValueError(f"{s.where('groups')}: {self.groups} does not divide {c} channels of layer {src}")
            chunk = c // self.groups
            self.chunks.append((chunk * self.group_id, chunk * (self.group_id + 1), c))
        self.out_shape = (sum(b - a for a, b, _ in self.chunks), h, w)

    def forward(self, *xs):
        parts = [x if (a == 0 and b == c) else x[:, a:b] for x, (a, b, c) in zip(xs, self.chunks)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class Shortcut(nn.Module):
    """out = act(alpha * previous + beta * sum of `from`). Same shapes: a plain
    add. Otherwise the original darknet's rule: channels beyond the smaller
    count pass through; width/height may differ by an integer factor."""

    def __init__(self, s: Section, shapes, sources):
        super().__init__()
        if s.get_str("weights_type", "none") != "none":
            raise ValueError(f"{s.where('weights_type')}: weighted shortcuts are not supported")
        self.alpha = s.get_float("alpha", 1.0)
        self.beta = s.get_float("beta", 1.0)
        self.act = Act(s.get_str("activation", "linear"), s.where("activation"))
        self.out_shape = shapes[0]
        c, h, w = shapes[0]
        self.plans = []
        for (fc, fh, fw), src in zip(shapes[1:], sources[1:]):
            if (fw // w != fh // h) or (w // fw != h // fh):
                raise ValueError(f"{s.where('from')}: layer {src} ({fc}x{fh}x{fw}) cannot be added to {c}x{h}x{w}")
            same = (fc, fh, fw) == (c, h, w)
            stride = max(fw // w, 1)
            sample = max(w // fw, 1)
            self.plans.append((same, min(fc, c), min(fh, h), min(fw, w), stride, sample))

    def forward(self, prev, *froms):
        out = prev if self.alpha == 1.0 else self.alpha * prev
        for x, (same, mc, mh, mw, stride, sample) in zip(froms, self.plans):
            y = x if self.beta == 1.0 else self.beta * x
            if same:
                out = out + y
            else:
                out = out.clone() if out is prev else out
                out[:, :mc, : mh * sample : sample, : mw * sample : sample] += y[:, :mc, : mh * stride : stride,
                                                                                     : mw * stride : stride]
        return self.act(out)


class Sam(nn.Module):
    """[sam]: act(previous * layer `from`), elementwise."""

    def __init__(self, s: Section, shapes, sources):
        super().__init__()
        if shapes[0] != shapes[1]:
            raise ValueError(f"{s.where('from')}: layer {sources[1]} is {shapes[1]}, previous is {shapes[0]}")
        self.act = Act(s.get_str("activation", "linear"), s.where("activation"))
        self.out_shape = shapes[0]

    def forward(self, prev, other):
        return self.act(prev * other)


class ScaleChannels(nn.Module):
    """[scale_channels]: act(layer `from` (C x H x W) * previous (C x 1 x 1))."""

    def __init__(self, s: Section, shapes, sources):
        super().__init__()
        if s.get_int("scale_wh", 0) != 0:
            raise ValueError(f"{s.where('scale_wh')}: per-position scaling is not supported")
        (c, h, w), (mc, mh, mw) = shapes
        if (c, h, w) != (mc, 1, 1):
            raise ValueError(f"{s.where('from')}: previous layer must be {mc}x1x1, is {c}x{h}x{w}")
        self.act = Act(s.get_str("activation", "linear"), s.where("activation"))
        self.out_shape = shapes[1]

    def forward(self, prev, other):
        return self.act(other * prev)


class Softmax(nn.Module):
    def __init__(self, s: Section, c, h, w):
        super().__init__()
        self.groups = s.get_int("groups", 1)
        self.temperature = s.get_float("temperature", 1.0)
        if (c * h * w) % self.groups:
            raise ValueError(f"{s.where('groups')}: {self.groups} does not divide {c * h * w} inputs")
        self.out_shape = (c, h, w)

    def forward(self, x):
        n = x.shape[0]
        y = x.reshape(n, self.groups, -1)
        if self.temperature != 1.0:
            y = y / self.temperature
        return torch.softmax(y, dim=-1).reshape(x.shape)


class Identity(nn.Module):
    def __init__(self, s: Section, c, h, w):
        super().__init__()
        self.out_shape = (c, h, w)

    def forward(self, x):
        return x


class Yolo(nn.Module):
    def __init__(self, s: Section, c, h, w, activations: bool):
        super().__init__()
        self.classes = s.get_int("classes", 20)
        num = s.get_int("num", 1)
        mask = s.get_ints("mask") if s.has("mask") else list(range(num))
        self.anchors_used = len(mask)
        self.scale_x_y = s.get_float("scale_x_y", 1.0)
        self.new_coords = s.get_int("new_coords", 0) != 0
        s.used.update(s.options)  # training keys: not needed here
        if c != len(mask) * (self.classes + 5):
            raise ValueError(f"{s.where()}: input has {c} channels, expected {len(mask)}*({self.classes}+5)")
        self.activations = activations
        self.out_shape = (c, h, w)

    def forward(self, x):
        if not self.activations:
            return x
        n, c, h, w = x.shape
        y = x.reshape(n, self.anchors_used, self.classes + 5, h, w)
        xy, wh, rest = y[:, :, :2], y[:, :, 2:4], y[:, :, 4:]
        if not self.new_coords:
            xy, rest = torch.sigmoid(xy), torch.sigmoid(rest)
        xy = xy * self.scale_x_y - 0.5 * (self.scale_x_y - 1.0)
        return torch.cat([xy, wh, rest], dim=2).reshape(n, c, h, w)


# ----------------------------------------------------------------------------
# the network


class DarknetNet(nn.Module):
    def __init__(self, sections: list[Section], width=None, height=None, channels=None,
                 yolo_activations=False):
        super().__init__()
        net = sections[0]
        self.width = width or net.get_int("width", 0)
        self.height = height or net.get_int("height", 0)
        self.channels = channels or net.get_int("channels", 3)
        net.used.update(net.options)  # training keys
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"{net.where()}: width and height must be positive (or pass them)")
        self.layers = nn.ModuleList()
        self.sources: list[list[int]] = []
        self.kinds: list[str] = []
        shapes: list[tuple] = []
        in_shape = (self.channels, self.height, self.width)
        for index, s in enumerate(sections[1:]):
            prev = shapes[-1] if shapes else in_shape
            src = [index - 1]

            def ref(key):
                out = []
                for r in s.get_ints(key):
                    resolved = index + r if r < 0 else r
                    if not 0 <= resolved < index:
                        raise ValueError(f"{s.where(key)}: {r} does not name an earlier layer")
                    out.append(resolved)
                return out

            kind = s.name
            if kind in ("convolutional", "conv"):
                layer = Conv(s, *prev)
            elif kind in ("connected", "conn"):
                layer = Connected(s, *prev)
            elif kind in ("maxpool", "max"):
                layer = MaxPool(s, *prev)
            elif kind in ("avgpool", "avg"):
                layer = AvgPool(s, *prev)
            elif kind == "upsample":
                layer = Upsample(s, *prev)
            elif kind in ("softmax", "soft"):
                layer = Softmax(s, *prev)
            elif kind in ("dropout", "cost"):
                s.used.update(s.options)
                layer = Identity(s, *prev)
            elif kind == "yolo":
                layer = Yolo(s, *prev, activations=yolo_activations)
            elif kind == "route":
                src = ref("layers")
                layer = Route(s, [shapes[i] for i in src], src)
            elif kind == "shortcut":
                if index == 0:
                    raise ValueError(f"{s.where()}: [shortcut] cannot be the first layer")
                src = [index - 1] + ref("from")
                layer = Shortcut(s, [shapes[i] for i in src], src)
            elif kind in ("sam", "scale_channels"):
                if index == 0:
                    raise ValueError(f"{s.where()}: [{kind}] cannot be the first layer")
                src = [index - 1] + ref("from")[:1]
                cls = Sam if kind == "sam" else ScaleChannels
                layer = cls(s, [shapes[i] for i in src], src)
            else:
                raise ValueError(f"{s.where()}: unsupported section [{kind}]")
            unused = set(s.options) - s.used
            if unused:
                print(f"warning: {s.where()}: unused keys {sorted(unused)}", file=sys.stderr)
            self.layers.append(layer)
            self.sources.append(src)
            self.kinds.append(kind)
            shapes.append(tuple(int(v) for v in layer.out_shape))
        self.shapes = shapes
        yolos = [i for i, k in enumerate(self.kinds) if k == "yolo"]
        self.outputs = yolos if yolos else [len(self.layers) - 1]
        # Last reader of every tensor, so forward() drops it right after.
        last_use = {}
        for i, src in enumerate(self.sources):
            for j in src:
                last_use[j] = i
        keep = set(self.outputs)
        self.release_after: list[list[int]] = [[] for _ in self.layers]
        for j, i in last_use.items():
            if j >= 0 and j not in keep and i > j:
                self.release_after[i].append(j)

    def forward(self, x):
        values: list = [None] * len(self.layers)
        for i, layer in enumerate(self.layers):
            ins = [x if j < 0 else values[j] for j in self.sources[i]]
            values[i] = layer(*ins)
            for j in self.release_after[i]:
                values[j] = None
        outs = tuple(values[i] for i in self.outputs)
        return outs[0] if len(outs) == 1 else outs

    # -- .weights ------------------------------------------------------------

    def parameter_layers(self):
        return [(i, l) for i, l in enumerate(self.layers) if hasattr(l, "darknet_arrays")]

    def load_darknet_weights(self, path: str) -> dict:
        """Reads darknet .weights into the modules; the file size must match
        the network exactly. Returns the header."""
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < 16:
            raise ValueError(f"{path}: {len(data)} bytes, shorter than a .weights header")
        major, minor, revision = struct.unpack_from("<3i", data, 0)
        seen64 = major * 10 + minor >= 2 and major < 1000
        seen = struct.unpack_from("<Q" if seen64 else "<I", data, 12)[0]
        offset = 20 if seen64 else 16
        transposed = major > 1000 or minor > 1000
        floats = np.frombuffer(data, dtype="<f4", offset=offset, count=(len(data) - offset) // 4)
        pos = 0
        with torch.no_grad():
            for i, layer in self.parameter_layers():
                for t in layer.darknet_arrays():
                    n = t.numel()
                    if pos + n > floats.size:
                        raise ValueError(f"{path}: file ends inside layer {i} ({self.kinds[i]}): needs "
                                         f"{offset + 4 * (pos + n)} bytes, has {len(data)}")
                    block = floats[pos:pos + n]
                    if transposed and isinstance(layer, Connected) and t is layer.fc.weight:
                        block = block.reshape(t.shape[1], t.shape[0]).T
                    t.copy_(torch.from_numpy(np.array(block, dtype=np.float32)).reshape(t.shape))
                    pos += n
        if offset + 4 * pos != len(data):
            raise ValueError(f"{path}: {len(data) - offset - 4 * pos} bytes beyond the network's parameters")
        return {"major": major, "minor": minor, "revision": revision, "seen": seen}

    def darknet_float_count(self, upto_layer=None) -> int:
        """Floats of .weights data for layers [0, upto_layer] (all by default)."""
        total = 0
        for i, layer in self.parameter_layers():
            if upto_layer is not None and i > upto_layer:
                break
            total += sum(t.numel() for t in layer.darknet_arrays())
        return total

    def save_darknet_weights(self, path: str, major=0, minor=2, revision=0, seen=0):
        """Writes darknet .weights (connected weights untransposed)."""
        seen64 = major * 10 + minor >= 2 and major < 1000
        with open(path, "wb") as f:
            f.write(struct.pack("<3i", major, minor, revision))
            f.write(struct.pack("<Q" if seen64 else "<I", seen))
            for _, layer in self.parameter_layers():
                for t in layer.darknet_arrays():
                    f.write(t.detach().cpu().numpy().astype("<f4").tobytes())


def build_model(cfg: str, weights: str | None = None, width=None, height=None, yolo_activations=False):
    """cfg (+ weights) -> DarknetNet in eval mode."""
    model = DarknetNet(parse_cfg(cfg), width=width, height=height, yolo_activations=yolo_activations)
    if weights:
        model.load_darknet_weights(weights)
    return model.eval()


# ----------------------------------------------------------------------------
# self-check against cspnet


def write_bmp(path: str, rgb: np.ndarray):
    """24-bit BMP of an H x W x 3 uint8 array (bottom-up rows, BGR, 4-byte rows)."""
    h, w, _ = rgb.shape
    row = (3 * w + 3) & ~3
    body = bytearray()
    for y in range(h - 1, -1, -1):
        line = rgb[y, :, ::-1].tobytes()
        body += line + b"\0" * (row - len(line))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(body), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    with open(path, "wb") as f:
        f.write(header + info + body)


def read_npy(path: str) -> np.ndarray:
    return np.load(path)


def _variants(cfg: str, sections: list[Section]):
    """(label, cfg text, last layer index or None) to compare: the cfg as is
    (first output), and a cut before each [softmax] (the logits) or after each
    [yolo] with every [yolo] turned into [dropout] (the raw head input)."""
    with open(cfg, encoding="utf-8") as f:
        lines = f.read().splitlines()
    starts = [s.line - 1 for s in sections]  # 0-based header lines
    out = [("output", "\n".join(lines) + "\n", None)]
    for k, s in enumerate(sections[1:], start=1):
        if s.name in ("softmax", "soft"):
            end = starts[k]  # cut before the softmax: layers 0..k-2
            out.append((f"logits (layer {k - 2})", "\n".join(lines[:end]) + "\n", k - 2))
        if s.name == "yolo":
            end = starts[k + 1] if k + 1 < len(starts) else len(lines)
            yolo_headers = {starts[j] for j, t in enumerate(sections) if t.name == "yolo"}
            kept, in_yolo = [], False
            for n, text in enumerate(lines[:end]):
                if n in starts:
                    in_yolo = n in yolo_headers
                    kept.append("[dropout]" if in_yolo else text)
                elif not in_yolo:
                    kept.append(text)
            out.append((f"raw yolo input (layer {k - 2})", "\n".join(kept) + "\n", k - 1))
    return out


def check_against_cspnet(cfg: str, cspnet: str, workdir: str, seed: int = 7, threads: int = 2) -> list[dict]:
    """Runs `cspnet predict --dump` and this builder on the same weights and a
    generated image of exactly the network's size (cspnet's resize and
    letterbox are then the identity: scale (w-1)/(w-1) = 1, offsets 0), and
    compares. Returns one record per compared output."""
    sections = parse_cfg(cfg)
    name = os.path.splitext(os.path.basename(cfg))[0]
    full = DarknetNet(parse_cfg(cfg))
    w, h, c = full.width, full.height, full.channels
    weights = os.path.join(workdir, f"{name}.weights")
    subprocess.run([cspnet, "init", cfg, weights, "--seed", str(seed)], check=True, capture_output=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    image = os.path.join(workdir, f"{name}.bmp")
    write_bmp(image, pixels)
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()
    if c == 1:
        x = x.mean(dim=1, keepdim=True)
    records = []
    for label, text, last in _variants(cfg, sections):
        vcfg = os.path.join(workdir, f"{name}.variant.cfg")
        with open(vcfg, "w", encoding="utf-8") as f:
            f.write(text)
        model = DarknetNet(parse_cfg(vcfg), yolo_activations=True).eval()
        vweights = weights
        if last is not None:  # the weights file's prefix for the cut network
            vweights = os.path.join(workdir, f"{name}.variant.weights")
            with open(weights, "rb") as f:
                head = f.read(20)
            major, minor = struct.unpack_from("<2i", head, 0)
            offset = 20 if major * 10 + minor >= 2 and major < 1000 else 16
            with open(weights, "rb") as f:
                data = f.read(offset + 4 * model.darknet_float_count())
            with open(vweights, "wb") as f:
                f.write(data)
        model.load_darknet_weights(vweights)
        dump = os.path.join(workdir, f"{name}.npy")
        subprocess.run([cspnet, "--threads", str(threads), "predict", vcfg, image, "--weights", vweights,
                        "--dump", dump], check=True, capture_output=True)
        ours = read_npy(dump).astype(np.float64)
        with torch.inference_mode():
            out = model(x)
        theirs = (out[0] if isinstance(out, tuple) else out).double().numpy()
        if ours.shape != theirs.shape:
            raise AssertionError(f"{name} {label}: cspnet shape {ours.shape}, PyTorch {theirs.shape}")
        diff = np.abs(ours - theirs)
        scale = np.abs(theirs).max()
        rec = {"cfg": name, "output": label, "shape": ours.shape,
               "max_abs_err": float(diff.max()),
               "max_abs_ref": float(scale),
               "max_err_rel_to_max": float(diff.max() / max(scale, 1e-30)),
               # elementwise relative error with a floor of 1e-3 of the largest magnitude
               "max_rel_err": float((diff / np.maximum(np.abs(theirs), 1e-3 * scale)).max())}
        flat_o, flat_t = ours.reshape(ours.shape[0], -1), theirs.reshape(theirs.shape[0], -1)
        if flat_o.shape[1] > 1 and ours.shape[2:] == (1, 1):
            rec["top1_cspnet"] = int(flat_o[0].argmax())
            rec["top1_torch"] = int(flat_t[0].argmax())
        records.append(rec)
    return records


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare against cspnet predict --dump")
    ap.add_argument("--cspnet", default=os.path.join(root, "build", "cspnet"))
    ap.add_argument("--tolerance", type=float, default=1e-3,
                    help="fail when max |diff| / max |ref| exceeds this (default 1e-3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("cfgs", nargs="*")
    args = ap.parse_args(argv)
    if not args.check:
        ap.print_help()
        return 2
    torch.set_num_threads(args.threads)
    cfgs = args.cfgs or [os.path.join(root, "..", "shared", "cfg", n + ".cfg")
                         for n in ("csdarknet53", "csresnext50", "csdarknet53-panet-spp", "csresnext50-panet-spp")]
    worst, failed = 0.0, False
    print(f"PyTorch {torch.__version__}; cspnet {args.cspnet}")
    print(f"{'cfg':<24} {'output':<28} {'shape':<20} {'max|d|/max|ref|':>15} {'max rel':>10}  top-1")
    with tempfile.TemporaryDirectory(prefix="darknet-torch-check-") as work:
        for cfg in cfgs:
            for r in check_against_cspnet(cfg, args.cspnet, work, threads=args.threads):
                top = ""
                if "top1_cspnet" in r:
                    agree = r["top1_cspnet"] == r["top1_torch"]
                    top = f"{r['top1_cspnet']} vs {r['top1_torch']} ({'agree' if agree else 'DIFFER'})"
                    failed |= not agree
                shape = "x".join(str(v) for v in r["shape"][1:])
                print(f"{r['cfg']:<24} {r['output']:<28} {shape:<20} {r['max_err_rel_to_max']:>15.2e} "
                      f"{r['max_rel_err']:>10.2e}  {top}", flush=True)
                worst = max(worst, r["max_err_rel_to_max"])
                failed |= r["max_err_rel_to_max"] > args.tolerance
    print(f"worst max|diff|/max|ref| {worst:.2e} (tolerance {args.tolerance:g}): {'FAIL' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
