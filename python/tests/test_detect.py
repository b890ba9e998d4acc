"""cspnet.detect against the CLI's predict on a tiny [yolo] network."""
import re
import subprocess

import numpy as np

import cspnet
from conftest import write_png

YOLO_CFG = """[net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=2
num=3
"""


def test_detect_matches_cli_predict(cli, tmp_path):
    cfg = tmp_path / "tiny-yolo.cfg"
    cfg.write_text(YOLO_CFG)
    net = cspnet.Network.from_cfg(str(cfg))
    net.init_weights(6)
    weights = tmp_path / "tiny.weights"
    net.save_weights(str(weights))
    pixels = np.random.default_rng(8).integers(0, 256, size=(48, 80, 3), dtype=np.uint8)
    image = tmp_path / "scene.png"
    write_png(image, pixels)
    threshold = 0.2
    found = cspnet.detect(net, pixels, threshold=threshold)
    out = subprocess.run([str(cli), "predict", str(cfg), str(image), "--weights", str(weights), "--threshold",
                          str(threshold)], check=True, capture_output=True, text=True).stdout
    count = int(re.search(r"(\d+) detections", out).group(1))
    rows = re.findall(r"class (\d+)\s+([\d.]+)%\s+centre \(([\d.-]+), ([\d.-]+)\) size ([\d.-]+) x ([\d.-]+)", out)
    assert len(found) == count == len(rows)
    assert count > 0  # the seed gives some boxes over this threshold, else the comparison is empty
    for (cls, score, (x, y, w, h)), row in zip(found, rows):
        assert cls == int(row[0])
        assert score >= threshold
        assert abs(100 * score - float(row[1])) <= 0.051
        for ours, theirs in zip((x, y, w, h), row[2:]):
            assert abs(ours - float(theirs)) <= 0.0005
