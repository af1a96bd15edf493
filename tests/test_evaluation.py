"""evaluate.py's library: metrics.json, per_image.csv and the sheet, beside the grayscale
baseline. Stand-in colorizers make the expected numbers known."""

import csv
import json

import numpy as np
import pytest

from colorgan import color
from colorgan.data import input_pipeline
from colorgan.evaluate import protocol

KEYS = {"psnr", "ssim", "lpips", "colourfulness", "delta_colourfulness", "chroma_ratio"}


def gray(images, render_size):
    """A colorizer that adds no colour: [N, H, W, 3] in [0, 1] -> its L as gray RGB."""
    L, _ = color.rgb_to_model(images[..., :3])
    return color.gray_rgb(L).numpy()


def tint(images, render_size):
    """A stand-in colorizer: the gray image with a fixed warm tint."""
    return np.clip(gray(images, render_size) * [1.0, 0.9, 0.8], 0, 1)


@pytest.fixture(scope="module")
def val():
    return input_pipeline.open_source("samples:val", min_chroma=0.0)


def test_evaluate_writes_metrics_csv_and_sheet_with_the_baseline(val, tmp_path):
    result = protocol.evaluate(tint, val, tmp_path, size=64, limit=5)
    assert json.loads((tmp_path / "metrics.json").read_text()) == result
    assert result["n"] == 5 and result["size"] == 64 and result["data"] == "samples:val"
    for row in ("colorgan", "grayscale_baseline"):
        assert set(result[row]) >= KEYS
        assert 5 < result[row]["psnr"] < 60 and 0 < result[row]["ssim"] <= 1
        assert result[row]["lpips"] > 0
    assert result["grayscale_baseline"]["chroma_ratio"] < 0.01  # ab = 0 has no chroma
    assert result["colorgan"]["chroma_ratio"] > 0.01  # the tint has some
    rows = list(csv.DictReader(open(tmp_path / "per_image.csv")))
    assert len(rows) == 5 and rows[0]["image"].endswith(".jpg")
    assert [r["image"] for r in rows] == [p.rsplit("/", 1)[1] for p in val.paths[:5]]
    assert abs(np.mean([float(r["psnr"]) for r in rows]) - result["colorgan"]["psnr"]) < 1e-3
    assert abs(np.mean([float(r["baseline_psnr"]) for r in rows])
               - result["grayscale_baseline"]["psnr"]) < 1e-3
    from PIL import Image
    assert Image.open(tmp_path / "comparison.png").size[0] > 64


def test_a_colorizer_that_adds_no_colour_scores_as_the_baseline(val, tmp_path):
    result = protocol.evaluate(gray, val, tmp_path, size=32, limit=4, use_lpips=False)
    model, baseline = result["colorgan"], result["grayscale_baseline"]
    assert model["lpips"] is None and baseline["lpips"] is None  # not computed
    for key in KEYS - {"lpips"}:
        assert model[key] == pytest.approx(baseline[key], rel=1e-3, abs=1e-3), key
