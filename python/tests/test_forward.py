"""Forward passes from Python against the CLI, the zoo, and other array producers."""
import subprocess

import numpy as np
import pytest

import cspnet
from conftest import write_png


def test_forward_equals_cli_predict_dump_bit_for_bit(small_cfg, cli, tmp_path):
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(7)
    weights = tmp_path / "small.weights"
    net.save_weights(str(weights))
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    image = tmp_path / "image.png"
    write_png(image, pixels)
    dump = tmp_path / "out.npy"
    subprocess.run([str(cli), "predict", str(small_cfg), str(image), "--weights", str(weights), "--dump", str(dump)],
                   check=True, capture_output=True)
    # load_image_rgb's scaling: byte / 255.f; the CLI's resize to the same size is the identity.
    x = np.ascontiguousarray(pixels.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255))
    ours = net(x)[0]
    theirs = np.load(dump)
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


def test_weights_round_trip_through_files_reproduces_outputs(small_cfg, tmp_path):
    a = cspnet.Network.from_cfg(str(small_cfg))
    a.init_weights(11)
    path = tmp_path / "a.weights"
    a.save_weights(str(path))
    b = cspnet.Network.from_cfg(str(small_cfg), weights=str(path))
    x = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)
    assert np.array_equal(a.forward(x)[0], b(x)[0])


def test_batch_rows_are_independent_of_the_batch(small_cfg):
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(5)
    x = np.random.default_rng(1).random((3, 3, 32, 32), dtype=np.float32)
    whole = net(x)[0]
    for i in range(3):
        np.testing.assert_allclose(net(x[i:i + 1])[0][0], whole[i], rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Failed to initialize NumPy")
def test_torch_tensor_input_matches_numpy(small_cfg):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(2)
    # Built through Python lists, not torch.from_numpy: Debian's torch is
    # compiled against NumPy 1.x and its NumPy bridge fails under NumPy 2;
    # cspnet takes the tensor through DLPack and needs no bridge.
    x = np.random.default_rng(2).random((1, 3, 32, 32), dtype=np.float32)
    tensor = torch.tensor(x.tolist(), dtype=torch.float32)
    assert np.array_equal(net(tensor)[0], net(x)[0])


def test_info_reports_layers_params_bflops_memory(small_cfg):
    info = cspnet.Network.from_cfg(str(small_cfg)).info()
    assert info["layers"] == 8
    # Learnable only: conv weights, biases and BN scales (not the rolling statistics).
    # conv1 16*3*9 + 2*16; conv2 16*16*9 + 2*16; conv3 10*32 + bias 10
    assert info["params"] == 16 * 27 + 32 + 16 * 144 + 32 + 320 + 10
    assert info["bflops"] > 0
    assert info["memory"] > 0
    assert info["input"] == (3, 32, 32)


def test_zoo_lists_and_builds_a_model_that_runs():
    names = cspnet.zoo.list()
    assert "cspdarknet53" in names
    net = cspnet.zoo.build("cspdarknet53")
    c, h, w = net.info()["input"]
    net.init_weights(1)
    out = net(np.zeros((1, c, h, w), dtype=np.float32), threads=2)
    assert out[0].shape[0] == 1 and np.isfinite(out[0]).all()


def test_bf16_precision_is_close_to_fp32(small_cfg):
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(4)
    x = np.random.default_rng(4).random((1, 3, 32, 32), dtype=np.float32)
    fp32 = net(x)[0]
    bf16 = net(x, precision="bf16")[0]
    np.testing.assert_allclose(bf16, fp32, atol=2e-2)


def test_int8_after_calibration_is_close_to_fp32_and_matches_the_cli_table(small_cfg, cli, tmp_path):
    net = cspnet.Network.from_cfg(str(small_cfg))
    net.init_weights(4)
    rng = np.random.default_rng(5)
    images = rng.random((4, 3, 32, 32), dtype=np.float32)
    with pytest.raises(ValueError, match="quantization table"):
        net(images[:1], precision="int8")
    summary = net.quantize(images, method="minmax")
    assert summary["images"] == 4 and summary["method"] == "minmax" and summary["convolutions"] > 0
    fp32 = net(images[:1])[0]
    int8 = net(images[:1], precision="int8")[0]
    scale = np.abs(fp32).max()
    assert np.abs(int8 - fp32).max() <= 0.05 * scale
    assert not np.array_equal(int8, fp32)  # the int8 path really ran
    # The table written from Python is the CLI's format: --precision int8 reads it.
    table = tmp_path / "small.q"
    net.save_quantization(str(table))
    weights = tmp_path / "small.weights"
    net.save_weights(str(weights))
    done = subprocess.run([str(cli), "bench", str(small_cfg), "--size", "32x32", "--weights", str(weights), "--runs", "1",
                           "--warmup", "0", "--precision", "int8", "--quantization", str(table),
                           "--accuracy-inputs", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "int8 vs direct fp32" in done.stdout
    # Other weights: the table no longer fits, and says so.
    other = cspnet.Network.from_cfg(str(small_cfg))
    other.init_weights(5)
    other.load_quantization(str(table))
    with pytest.raises(cspnet.Error, match="calibrated with other weights"):
        other(images[:1], precision="int8")


def test_analyze_stages_add_up_to_the_network_totals(small_cfg):
    net = cspnet.Network.from_cfg(str(small_cfg))
    info = net.info()
    figures = cspnet.analyze(net, runs=2)
    total = figures["total"]
    assert total["parameters"] == info["params"]
    assert abs(total["bflops"] - info["bflops"]) <= 1e-9 * info["bflops"]
    stages = figures["stages"]
    assert len(stages) >= 2  # 32x32, then 16x16 after the maxpool
    assert sum(s["parameters"] for s in stages) == total["parameters"]
    assert sum(s["cio"] for s in stages) == total["cio"]
    assert stages[0]["first_layer"] == 0 and stages[-1]["last_layer"] == info["layers"] - 1
    assert all(s["time_ms"] > 0 for s in stages)
    assert figures["inference_peak_bytes"] > 0
