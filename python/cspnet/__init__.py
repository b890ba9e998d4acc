"""cspnet: Cross Stage Partial Networks (darknet .cfg/.weights compatible) from Python.

Thin over the C++ library: NumPy (or any DLPack / buffer-protocol object, e.g.
a PyTorch CPU tensor) in, NumPy out. Errors from the library are raised as
``cspnet.Error`` (a RuntimeError) carrying its message (file:line where the
problem is in a file).
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from . import _cspnet
from . import zoo
from ._cspnet import Error, num_threads, set_num_threads, train
from ._cspnet import Network

__version__ = _cspnet.version()

Box = Tuple[float, float, float, float]


def detect(net: Network, image: Any, threshold: float = 0.25, nms: float = 0.45) -> List[Tuple[int, float, Box]]:
    """Detections of one image by a network with [yolo] heads.

    ``image`` is an HxWxC uint8 array in RGB order (PIL's convention; convert
    OpenCV's BGR with ``image[..., ::-1]``). It is letterboxed to the network's
    input as darknet does. Returns ``(class, score, (x, y, w, h))`` per
    detection after NMS, the box as centre and size relative to the image.
    """
    if image is None:
        raise TypeError("image must be an HxWxC uint8 array, got None")
    if not net.is_detector():
        raise ValueError("detect() needs a network whose first output is a [yolo] layer")
    return net.detect(image, float(threshold), float(nms))


def evaluate(net: Network, data: str = "fashion-mnist", split: str = "test", batch: int = 200,
             limit: int = 0) -> dict:
    """Top-1/top-5 and mean cross-entropy of a classifier, as ``cspnet eval``.

    ``data`` takes the same specs as ``train`` (fashion-mnist, an image folder, list:...).
    """
    return net.evaluate(data=data, split=split, batch=batch, limit=limit)


def analyze(net: Network, runs: int = 0, training_batch: int = 0) -> dict:
    """The paper's figures per resolution stage and in total (``cspnet analyze``).

    ``runs`` > 0 also times each stage (median of that many forwards at batch 1);
    ``training_batch`` > 0 also plans training memory at that batch.
    """
    return net.analyze(runs=runs, training_batch=training_batch)


def export_onnx(net: Network, path: str, opset: int = 17, dynamic_batch: bool = False, fold_bn: bool = False,
                yolo_decode: bool = False) -> None:
    """Writes ``net`` at its current input size and batch as ONNX (``cspnet export``).

    Nodes and initialisers are named after the cfg layers. ``dynamic_batch``
    names the batch axis "batch"; ``fold_bn`` folds batch norm into the
    weights; ``yolo_decode`` adds ``boxes``/``scores`` outputs for detectors.
    """
    net.export_onnx(path, opset=opset, dynamic_batch=dynamic_batch, fold_bn=fold_bn, yolo_decode=yolo_decode)


__all__ = ["Network", "Error", "analyze", "detect", "evaluate", "export_onnx", "train", "zoo", "set_num_threads", "num_threads", "__version__"]
