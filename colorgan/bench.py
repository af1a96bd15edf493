"""Speed figures: train step, input pipeline and serving, as medians over repeats.

Every figure is a dict {"figure", "preset", "precision", "size", "batch", "median", "unit",
"runs"}; bench.py prints one JSON line per figure and a table. Untrained models: speed
does not depend on the weights.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from colorgan import config, data, models, serving, training


def _median_rate(fn: Callable[[], object], count: int, repeats: int, warmup: int) -> list[float]:
    """Runs fn `warmup` times, then `repeats` x `count` times: items per second per repeat."""
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        rates.append(count / (time.perf_counter() - start))
    return rates


def _figure(name: str, preset: str, precision: str, size: int, batch: int, runs: list[float],
            unit: str, scale: float = 1.0) -> dict:
    runs = [r * scale for r in runs]
    return {"figure": name, "preset": preset, "precision": precision, "size": size,
            "batch": batch, "median": round(statistics.median(runs), 3), "unit": unit,
            "runs": [round(r, 3) for r in runs]}


def bench_cfg(preset: str, batch_size: int | None = None, precision: str = "fp32") -> config.Config:
    overrides = {"precision": precision, "strategy": "default"}
    if batch_size:
        overrides["batch_size"] = batch_size
    return config.with_overrides(config.get_preset(preset), overrides)


def _train_step(cfg: config.Config):
    """A fresh state's traced train step on the default strategy."""
    strategy = tf.distribute.get_strategy()
    return training.make_train_step(training.create_state(cfg, strategy), cfg, strategy)


def train_speed(cfg: config.Config, preset: str, steps: int, repeats: int) -> dict:
    """Images/s of the train step alone, on one fixed batch of real photos."""
    step = _train_step(cfg)
    batch = next(iter(data.train_dataset(data.open_source("samples"),
                                         image_size=cfg.data.image_size,
                                         batch_size=cfg.train.batch_size, seed=0)))
    rates = _median_rate(lambda: step(batch)["g_l1"].numpy(), steps, repeats, warmup=2)
    return _figure("train", preset, cfg.train.precision, cfg.data.image_size,
                   cfg.train.batch_size, rates, "img/s", cfg.train.batch_size)


def short_run_l1(cfg: config.Config, preset: str, steps: int) -> dict:
    """Mean L1 (model range) over the last quarter of a `steps`-step run from the seed's
    initial weights on the seed's sample stream: compares precisions on one trajectory."""
    step = _train_step(cfg)
    it = iter(data.train_dataset(data.open_source("samples"), image_size=cfg.data.image_size,
                                 batch_size=cfg.train.batch_size, seed=cfg.train.seed))
    l1 = [float(step(next(it))["g_l1"]) for _ in range(steps)]
    tail = l1[-max(1, steps // 4):]
    return _figure("l1_short_run", preset, cfg.train.precision, cfg.data.image_size,
                   cfg.train.batch_size, [statistics.fmean(tail)], "L1")


def pipeline_speed(cfg: config.Config, preset: str, batches: int, repeats: int) -> dict:
    """Images/s the input pipeline delivers (decode, crop, flip, Lab) from the samples."""
    ds = data.train_dataset(data.open_source("samples"), image_size=cfg.data.image_size,
                            batch_size=cfg.train.batch_size, seed=0)
    it = iter(ds)
    rates = _median_rate(lambda: next(it)[0].numpy(), batches, repeats, warmup=3)
    return _figure("input_pipeline", preset, "fp32", cfg.data.image_size, cfg.train.batch_size,
                   rates, "img/s", cfg.train.batch_size)


def synthetic_photo(width: int, height: int) -> np.ndarray:
    """uint8 RGB [height, width, 3]: smooth colour gradients plus noise, so JPEG and PNG
    sizes are photo-like rather than trivially compressible."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width] / width
    img = np.stack([np.sin(9 * xx), np.cos(7 * yy), xx * yy], -1) * 100 + 128
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def serving_latency(cfg: config.Config, preset: str, repeats: int) -> list[dict]:
    """Milliseconds per request of the exported serving_default, for a 256^2 and a 1 MP JPEG."""
    size = cfg.data.image_size
    generator = models.build_generator(cfg.model, size)
    colorizer = serving.Colorizer(generator, size, serving.DEFAULT_MAX_PIXELS,
                                  models.input_multiple(cfg.model, size), cfg.model.color_space)
    with tempfile.TemporaryDirectory() as tmp:
        serve = tf.saved_model.load(str(serving.export(colorizer, tmp))).signatures["serving_default"]
    out = []
    for label, (w, h) in (("256x256", (256, 256)), ("1MP", (1155, 866))):
        request = tf.constant([jpeg_bytes(synthetic_photo(w, h))])
        rates = _median_rate(lambda: serve(image_bytes=request)["colorized_png_bytes"].numpy(),
                             1, repeats, warmup=2)
        fig = _figure(f"serving_{label}", preset, "fp32", size, 1, [1e3 / r for r in rates], "ms")
        out.append(fig)
    return out


def table(figures: list[dict]) -> str:
    rows = ["| figure | preset | precision | size | batch | median | unit |",
            "|---|---|---|---|---|---|---|"]
    for f in figures:
        value = f"{f['median']:.4f}" if f["unit"] == "L1" else f"{f['median']:.1f}"
        rows.append(f"| {f['figure']} | {f['preset']} | {f['precision']} | {f['size']} | "
                    f"{f['batch']} | {value} | {f['unit']} |")
    return "\n".join(rows)
