"""cspnet.train: the per-step callback, and the run equal to the CLI's."""
import subprocess

import numpy as np
import pytest

import cspnet


def test_callback_sees_every_step_and_can_stop_the_run(train_cfg, tmp_path):
    reports = []

    def on_step(report):
        reports.append(report)
        return report["step"] < 3  # False after the third step: stop

    summary = cspnet.train(str(train_cfg), max_batches=20, out=str(tmp_path / "run"), seed=3, eval_limit=50,
                           callback=on_step)
    assert [r["step"] for r in reports] == [1, 2, 3]
    assert all(r["total_steps"] == 20 for r in reports)
    assert all(np.isfinite(r["loss"]) and r["loss"] > 0 for r in reports)
    assert all(r["images_per_second"] > 0 for r in reports)
    assert summary["interrupted"] is True
    assert summary["steps"] == 3


def test_exception_in_callback_stops_and_is_raised(train_cfg, tmp_path):
    def on_step(report):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        cspnet.train(str(train_cfg), max_batches=5, out=str(tmp_path / "run"), eval_limit=50, callback=on_step)


def test_training_through_the_api_equals_the_cli_with_the_same_seed(train_cfg, cli, tmp_path):
    api = cspnet.train(str(train_cfg), max_batches=4, out=str(tmp_path / "api"), seed=9, eval_limit=50)
    subprocess.run([str(cli), "train", str(train_cfg), "--max-batches", "4", "--out", str(tmp_path / "cli"),
                    "--seed", "9", "--eval-limit", "50"], check=True, capture_output=True)
    assert api["steps"] == 4 and not api["interrupted"]
    ours = (tmp_path / "api" / "final.weights").read_bytes()
    theirs = (tmp_path / "cli" / "final.weights").read_bytes()
    assert len(ours) > 100
    assert ours == theirs


def test_missing_cfg_raises_cspnet_error(tmp_path):
    with pytest.raises(cspnet.Error, match="nothing.cfg"):
        cspnet.train(str(tmp_path / "nothing.cfg"), max_batches=1, out=str(tmp_path / "run"))


def test_evaluate_equals_cli_eval_json(train_cfg, cli, tmp_path):
    import json
    summary = cspnet.train(str(train_cfg), max_batches=3, out=str(tmp_path / "run"), seed=4, eval_limit=50)
    net = cspnet.Network.from_cfg(str(train_cfg), weights=summary["weights"])
    ours = cspnet.evaluate(net, limit=120, batch=40)
    cli_run = subprocess.run([str(cli), "eval", str(train_cfg), "--weights", summary["weights"], "--limit", "120",
                              "--batch", "40", "--json"], check=True, capture_output=True, text=True)
    theirs = json.loads(cli_run.stdout)
    assert ours["images"] == theirs["images"] == 120
    assert len(ours["predictions"]) == 120
    for key in ("top1", "top5", "loss"):
        assert ours[key] == theirs[key], key
