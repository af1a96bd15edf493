"""Trains a defect finder (models/defect_finder.py) on its own, onto a restorer: where are a
scan's dust, hairs, scratches, folds and torn corners?

Batches of old-photo scans come with their drawn masks (input_pipeline.train_dataset's
`with_defects`: degrade.old_photo_and_defects' `VISIBLE` mask), one stream per scale, steps
cycling through FinderConfig.scales. The loss is the cross-entropy of the mask with defect
pixels weighed `positive` times (the restorer's own finder loss, train/restorer_fit.py). The
restorer's weights are not touched: onto a restorer trained without a finder, restoring
then fills what the finder marks (models/fill.py) and restores the filled scan as before
(RestorerConfig.mask_input False).
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import config
from colorgan.data import input_pipeline, sources
from colorgan.evaluate import restoration
from colorgan.models import restorer as restorer_lib
from colorgan.progress import format_eta

LOG_EVERY = 250  # steps between progress lines


def counts(restorer: restorer_lib.Restorer, scan: tf.Tensor, mask: tf.Tensor) -> np.ndarray:
    """Pixels [true positives, false positives, false negatives] of what restoring would
    fill (Restorer.mask_of) against the drawn `mask`; scan, mask [B, h, w, 1]."""
    found = restorer.mask_of(scan, restorer_lib.levels(scan))
    return np.array([float(tf.reduce_sum(found * mask)), float(tf.reduce_sum(found * (1 - mask))),
                     float(tf.reduce_sum((1 - found) * mask))])


def precision_recall(restorer: restorer_lib.Restorer, source: sources.ImageSource, *,
                     scale: int = 1, size: int = 256, seed: int = 2024,
                     limit: int | None = None) -> dict:
    """The finder's pixel precision and recall on old-photo scans of `source`'s photos
    (restoration.old_photo_pairs, DegradeConfig() defaults: the evaluation's scans)."""
    tp, fp, fn = sum(counts(restorer, scan, mask) for scan, mask, _ in restoration.old_photo_pairs(
        source, size=size, scale=scale, seed=seed, limit=limit, with_mask=True))
    return {"precision": round(float(tp / max(tp + fp, 1.0)), 4),
            "recall": round(float(tp / max(tp + fn, 1.0)), 4)}


def fit(restorer: restorer_lib.Restorer, source: sources.ImageSource,
        cfg: config.FinderConfig) -> tuple[restorer_lib.Restorer, dict]:
    """-> (a copy of `restorer` with a finder trained on `source`'s photos, the card's
    "finder" entry: how it trained and its loss over each tenth of the steps)."""
    found = restorer_lib.with_new_finder(restorer, cfg.channels, cfg.seed)
    finder = found.finder
    streams = {s: iter(input_pipeline.train_dataset(
        source, image_size=cfg.image_size, batch_size=cfg.batch_size, seed=cfg.seed * 10 + s,
        crop_area=cfg.crop_area, old_photo=cfg.degrade, scale=s, with_defects=True))
        for s in sorted(set(cfg.scales))}
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, cfg.steps))

    @tf.function(reduce_retracing=True)
    def step(scan, mask):
        with tf.GradientTape() as tape:
            logits = found.defects(scan, restorer_lib.levels(scan), training=True)
            loss = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(
                mask, logits, cfg.positive))
        optimizer.apply_gradients(zip(tape.gradient(loss, finder.trainable_variables),
                                      finder.trainable_variables))
        return loss

    start, losses = time.perf_counter(), []
    for i in range(cfg.steps):
        scan, mask = next(streams[cfg.scales[i % len(cfg.scales)]])[:2]
        losses.append(float(step(scan, mask)))
        if (i + 1) % LOG_EVERY == 0 or i + 1 == cfg.steps:
            spent = time.perf_counter() - start
            logging.info("finder step %d/%d: loss %.4f, %.1f img/s, ETA %s", i + 1, cfg.steps,
                         np.mean(losses[-LOG_EVERY:]), (i + 1) * cfg.batch_size / spent,
                         format_eta(spent / (i + 1) * (cfg.steps - i - 1)))
    tenths = [round(float(np.mean(part)), 4) for part in np.array_split(losses, min(10, len(losses)))]
    if not math.isfinite(tenths[-1]):
        raise FloatingPointError("the finder's loss is not finite")
    card = {"steps": cfg.steps, "scales": list(cfg.scales), "image_size": cfg.image_size,
            "batch_size": cfg.batch_size, "positive": cfg.positive, "seed": cfg.seed,
            "losses": tenths, "seconds": round(time.perf_counter() - start)}
    return found, card
