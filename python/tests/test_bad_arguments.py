"""Bad arguments raise Python exceptions with a message; nothing crashes."""
import numpy as np
import pytest

import cspnet


@pytest.fixture
def net(small_cfg):
    n = cspnet.Network.from_cfg(str(small_cfg))
    n.init_weights(1)
    return n


GOOD = np.zeros((1, 3, 32, 32), dtype=np.float32)

BAD_INPUTS = [
    ("float64", GOOD.astype(np.float64), TypeError, "float32"),
    ("int32", GOOD.astype(np.int32), TypeError, "float32"),
    ("3-D", GOOD[0], ValueError, "4-D"),
    ("non-contiguous", np.zeros((1, 3, 32, 64), dtype=np.float32)[..., ::2], ValueError, "C-contiguous"),
    ("Fortran order", np.asfortranarray(np.zeros((2, 3, 32, 32), dtype=np.float32)), ValueError, "C-contiguous"),
    ("wrong channels", np.zeros((1, 4, 32, 32), dtype=np.float32), ValueError, "channels"),
    ("empty", np.zeros((0, 3, 32, 32), dtype=np.float32), ValueError, "empty"),
]


@pytest.mark.parametrize("label,x,error,message", BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_raises(net, label, x, error, message):
    with pytest.raises(error, match=message):
        net(x)


@pytest.mark.parametrize("x", [None, "a string", [1.0, 2.0]], ids=["None", "str", "list"])
def test_non_arrays_raise_type_error(net, x):
    with pytest.raises(TypeError):
        net(x)


def test_bad_precision_and_threads(net):
    with pytest.raises(ValueError, match="precision"):
        net(GOOD, precision="fp16")
    with pytest.raises(ValueError, match="threads"):
        net(GOOD, threads=0)


def test_missing_cfg_names_the_file(tmp_path):
    path = tmp_path / "missing.cfg"
    with pytest.raises(cspnet.Error, match="missing.cfg"):
        cspnet.Network.from_cfg(str(path))


def test_cfg_error_carries_file_and_line(tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_text("[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=abc\nsize=3\n")
    with pytest.raises(cspnet.Error, match=r"bad\.cfg:\d+"):
        cspnet.Network.from_cfg(str(path))


def test_truncated_weights_raise(net, tmp_path):
    path = tmp_path / "short.weights"
    net.save_weights(str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(cspnet.Error, match="short.weights"):
        net.load_weights(str(path))


def test_unknown_zoo_model_raises():
    with pytest.raises(cspnet.Error):
        cspnet.zoo.build("no-such-model")


def test_detect_rejects_a_classifier_and_bad_images(net):
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="yolo"):
        cspnet.detect(net, image)
    with pytest.raises(TypeError):
        cspnet.detect(net, None)


def test_bad_size_raises(small_cfg):
    with pytest.raises(ValueError, match="size"):
        cspnet.Network.from_cfg(str(small_cfg), size=0)
