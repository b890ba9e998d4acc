"""Shared fixtures: the module under test, the CLI it is compared with, a small cfg."""
import os
import pathlib
import struct
import zlib

import numpy as np
import pytest

cspnet = pytest.importorskip("cspnet", reason="the cspnet module is not built/installed")

REPO = pathlib.Path(__file__).resolve().parents[2]

# A small 3-channel classifier touching the usual layers (conv+BN+leaky, maxpool,
# route, shortcut, avgpool, connected, softmax).
SMALL_CFG = """[net]
width=32
height=32
channels=3
batch=1

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=mish

[shortcut]
from=-2
activation=linear

[route]
layers=-1,-3

[convolutional]
filters=10
size=1
stride=1
pad=1
activation=linear

[avgpool]

[softmax]
groups=1
"""


@pytest.fixture
def small_cfg(tmp_path):
    path = tmp_path / "small.cfg"
    path.write_text(SMALL_CFG)
    return path


@pytest.fixture
def cli():
    path = pathlib.Path(os.environ.get("CSPNET_CLI", REPO / "build" / "cspnet"))
    if not path.is_file():
        pytest.skip(f"the cspnet CLI is not built at {path} (set CSPNET_CLI)")
    return path


def write_png(path, pixels):
    """An 8-bit RGB PNG of an HxWx3 uint8 array (no filter, one IDAT)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


@pytest.fixture
def train_cfg():
    path = REPO / "tests" / "cfg" / "classifier_every_head.cfg"
    if not pathlib.Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed")
    return path
