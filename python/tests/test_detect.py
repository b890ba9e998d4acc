"""cspnet.detect against the CLI's predict on a tiny [yolo] network."""
import json
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
                          str(threshold), "--max-det", "100000", "--json"], check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)["images"][0]["detections"]
    assert len(found) == len(rows)
    assert len(rows) > 0  # the seed gives some boxes over this threshold, else the comparison is empty
    for (cls, score, (x, y, w, h)), row in zip(found, rows):
        assert cls == row["class"]
        assert score >= threshold
        assert abs(score - row["score"]) <= 1e-6
        for ours, theirs in zip((x, y, w, h), row["box_cxcywh_norm"]):
            assert abs(ours - theirs) <= 1e-6
        # The pixel box is the normalised one in the 80x48 image, clipped to it.
        x1, y1, x2, y2 = row["box_xyxy"]
        assert abs(x1 - min(max((x - w / 2) * 80, 0), 80)) <= 1e-3
        assert abs(y2 - min(max((y + h / 2) * 48, 0), 48)) <= 1e-3
