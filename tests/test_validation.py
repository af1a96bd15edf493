"""Validation while training: evaluate.py's numbers every N steps, the best checkpoint."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config, workdir
from colorgan.data import input_pipeline
from colorgan.evaluate import protocol
from colorgan.serve import opener
from colorgan.train import fit, validation

ROOT = Path(__file__).resolve().parents[1]


def scalars(run: Path) -> dict[str, dict[int, float]]:
    """TensorBoard scalars of a workdir: {tag: {step: value}}."""
    out: dict[str, dict[int, float]] = {}
    for f in (run / "tb").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            for v in event.summary.value:
                if v.HasField("tensor"):
                    out.setdefault(v.tag, {})[event.step] = float(tf.make_ndarray(v.tensor))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = config.with_overrides(config.get_preset("tiny"), {
        "steps": 4, "eval_every": 2, "eval_size": 32, "eval_limit": 12, "keep_best": "psnr",
        "log_every": 1000, "summary_every": 1000, "image_every": 1000, "checkpoint_every": 100})
    path = tmp_path_factory.mktemp("run")
    fit.fit(cfg, path)
    return path


def test_validation_scores_go_to_tensorboard_every_eval_every_steps(run):
    tags = scalars(run)
    for name in ("psnr", "ssim", "lpips", "delta_colourfulness", "chroma_ratio"):
        assert sorted(tags[f"val/{name}"]) == [2, 4], name
    assert sorted(tags["val_gray/psnr"]) == [2, 4]
    assert tags["val_gray/psnr"][2] == tags["val_gray/psnr"][4]  # gray does not train


def test_validation_equals_evaluate_py_on_the_same_checkpoint(run, tmp_path):
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    result = protocol.evaluate(opener.open_model(run), source, tmp_path, size=32, limit=12)
    tags = scalars(run)
    for key in ("psnr", "ssim", "lpips", "delta_colourfulness", "chroma_ratio"):
        assert tags[f"val/{key}"][4] == pytest.approx(result["colorgan"][key], abs=2e-4), key


def test_the_best_generator_is_kept_and_exported(run, tmp_path):
    best = json.loads((run / "best" / "best.json").read_text())
    psnr = scalars(run)["val/psnr"]
    assert best["metric"] == "psnr" and best["step"] == max(psnr, key=psnr.get)
    assert best["value"] == pytest.approx(psnr[best["step"]], abs=1e-4)
    prefix, wdir = workdir.resolve_checkpoint(str(run), which="best")
    assert prefix.endswith(f"best/ckpt-{best['step']}") and wdir == str(run)
    proc = subprocess.run([sys.executable, str(ROOT / "export.py"), f"--workdir={run}",
                           "--checkpoint=best", f"--export_dir={tmp_path / 'export'}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = tf.saved_model.load(str(tmp_path / "export" / "1"))
    images = tf.random.uniform([1, 32, 32, 3], seed=1)
    want = opener.open_model(prefix)(images.numpy(), 0)
    got = loaded.signatures["colorize"](images=images)["colorized"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)




@pytest.mark.parametrize("metric, values, saved", [
    ("psnr", [20.0, 19.0, 21.0], [True, False, True]),
    ("lpips", [0.30, 0.31, 0.25], [True, False, True]),
    ("dcf", [9.0, 4.0, 4.0], [True, True, False]),
])
def test_best_checkpoint_follows_the_metric_direction_and_survives_a_resume(
        tmp_path, metric, values, saved):
    import keras
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    key = validation.BEST_METRICS[metric][0]
    best = validation.BestCheckpoint(str(tmp_path), metric, generator)
    got = [best.update({"colorgan": {key: v}}, step) for step, v in enumerate(values, 1)]
    assert got == saved
    again = validation.BestCheckpoint(str(tmp_path), metric, generator)  # a resumed run
    assert again.best == best.best
    assert not again.update({"colorgan": {key: best.best["value"]}}, 9)  # a tie is no gain


def test_keep_best_without_eval_every_is_one_line():
    with pytest.raises(config.UserError, match="eval_every"):
        config.with_overrides(config.get_preset("tiny"), {"keep_best": "psnr"})
    with pytest.raises(config.UserError, match="keep_best"):
        config.with_overrides(config.get_preset("tiny"), {"keep_best": "fid", "eval_every": 2})


def test_best_metrics_are_the_declared_choices():
    assert set(validation.BEST_METRICS) == set(config.KEEP_BEST) - {""}
