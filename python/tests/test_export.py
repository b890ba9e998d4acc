"""cspnet.export_onnx against ONNX Runtime, and the in-place input path."""
import numpy as np
import pytest

import cspnet


def test_exported_model_runs_in_onnxruntime_like_the_engine(small_cfg, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the oracle)")
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(4)
    x = np.random.default_rng(4).random((2, 3, 32, 32), dtype=np.float32)
    ours = net(x)[0]
    path = tmp_path / "small.onnx"
    cspnet.export_onnx(net, str(path), dynamic_batch=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-4, atol=1e-5)


def test_export_errors_are_python_exceptions(small_cfg, tmp_path):
    net = cspnet.Network.from_cfg(str(small_cfg))
    with pytest.raises(cspnet.Error, match="opset"):
        cspnet.export_onnx(net, str(tmp_path / "x.onnx"), opset=3)
    with pytest.raises(cspnet.Error, match="yolo"):
        cspnet.export_onnx(net, str(tmp_path / "y.onnx"), yolo_decode=True)
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


def test_forward_leaves_the_input_array_untouched(small_cfg):
    # The array is read in place (no copy first): it must not be written.
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(6)
    x = np.random.default_rng(6).random((1, 3, 32, 32), dtype=np.float32)
    before = x.copy()
    first = net(x)[0]
    assert np.array_equal(x, before)
    assert np.array_equal(net(x)[0], first)
