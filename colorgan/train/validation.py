"""Validation while training: evaluate.py's protocol on the eval photos every N steps, and
the best checkpoint by a chosen metric kept beside the latest ones.

The scores are evaluate.py's own: the same crops (`protocol.score`), the same serving
graph (`graph.Colorizer`: L at the render size, ab upsampled onto the full-resolution
L) and an fp32 generator, as evaluate.py restores a checkpoint into, holding a copy of
the training generator's weights. So a bf16 run's validation PSNR is the PSNR its
checkpoint will get from evaluate.py, not that of its bf16 forward pass.
"""

from __future__ import annotations

import json

import keras
import tensorflow as tf
from absl import logging

from colorgan import config, fileio, workdir
from colorgan.data import decode, sources
from colorgan.evaluate import metrics, protocol
from colorgan.models import networks
from colorgan.serve import graph

# config.KEEP_BEST's choices: (key in protocol.summary's "colorgan", +1 higher is better)
BEST_METRICS = {"psnr": ("psnr", 1), "ssim": ("ssim", 1), "lpips": ("lpips", -1),
                "dcf": ("delta_colourfulness", -1)}
BEST_DIR = workdir.BEST_DIR  # WORKDIR/best/ckpt-N (the generator only) and best.json
BEST_FILE = "best.json"


class Validator:
    """fn(generator) -> protocol.summary(...) of that generator on `source`."""

    def __init__(self, cfg: config.Config, source: sources.ImageSource, *, size: int = 256,
                 limit: int | None = None, use_lpips: bool = True):
        self.source, self.size, self.limit = source, size, limit
        build = config.generator_size(cfg)
        policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")  # evaluate.py's generator
        try:
            self.generator = networks.build_generator(config.generator_model(cfg), build)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        self.colorizer = graph.Colorizer(
            self.generator, cfg.data.image_size, decode.DEFAULT_MAX_PIXELS,
            networks.input_multiple(cfg.model, build), cfg.model.color_space)
        self.lpips = metrics.LPIPS.shipped() if use_lpips else None

    def __call__(self, generator: keras.Model) -> dict:
        self.generator.set_weights(generator.get_weights())

        def model(images, render_size):
            return self.colorizer.colorize_at(tf.constant(images, tf.float32),
                                              tf.constant(render_size, tf.int32)).numpy()

        rows, _, _ = protocol.score(model, self.source, size=self.size, limit=self.limit,
                                    lpips=self.lpips)
        return protocol.summary(rows)


def describe(result: dict) -> str:
    """One progress-line fragment: PSNR (gray), SSIM, LPIPS, ΔCF, chroma ratio."""
    m, g = result["colorgan"], result["grayscale_baseline"]
    lpips = f"  LPIPS {m['lpips']:.3f}" if m.get("lpips") is not None else ""
    return (f"PSNR {m['psnr']:.2f} (gray {g['psnr']:.2f})  SSIM {m['ssim']:.3f}{lpips}  "
            f"dCF {m['delta_colourfulness']:.1f}  chroma x{m['chroma_ratio']:.2f}")


class BestCheckpoint:
    """The generator at the best validation score so far, in `folder`/ckpt-STEP, with
    best.json ({"metric", "value", "step"}) so a resumed run knows what it has to beat."""

    def __init__(self, folder: str, metric: str, generator: keras.Model):
        self.key, self.sign = BEST_METRICS[metric]
        self.metric, self.folder = metric, folder
        self.manager = tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator),
                                                  folder, max_to_keep=1)
        path = fileio.join(folder, BEST_FILE)
        self.best = json.loads(fileio.read_text(path)) if fileio.exists(path) else None
        if self.best and self.best.get("metric") != metric:  # another criterion: start over
            self.best = None

    def update(self, result: dict, step: int) -> bool:
        """Saves the generator if `result` beats the best so far; True if it did."""
        value = result["colorgan"].get(self.key)
        if value is None:
            return False
        if self.best is not None and self.sign * value <= self.sign * self.best["value"]:
            return False
        self.manager.save(checkpoint_number=step)
        self.best = {"metric": self.metric, "value": value, "step": step}
        fileio.write_text_atomic(fileio.join(self.folder, BEST_FILE), json.dumps(self.best) + "\n")
        logging.info("best %s so far (%.4f): saved %s", self.metric, value,
                     self.manager.latest_checkpoint)
        return True
