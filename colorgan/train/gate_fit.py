"""Trains the restoring gate (models/gate.py) on a restorer: is a scan degraded?

The scans are made once (`scans`: GateConfig.scans old-photo scans of the photos, split
between 1x, 2x and 4x, clean ones and keyed photos among them, each labelled 1 where its
L* PSNR against its photo's clean scan is under GateConfig.clean_db) and trained on epoch
after epoch, in random crops of half their side up to all of it: the gate reads a centre
crop of at most gate.CROP px of photos of any size, and --upscale=4 of a 64 px scan gives
it 64 px. The loss is the binary cross-entropy of the label. The restorer's own weights
are not touched, so the restored figures of a gated restorer change only by the blend.
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
from colorgan.models import gate as gate_lib, restorer as restorer_lib
from colorgan.progress import format_eta


def psnr_db(scan: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Model-range L [N, H, W, 1] pairs -> [N] PSNR in dB, peak 2 (the range's width)."""
    mse = np.mean(np.square(scan.astype(np.float64) - truth), axis=(1, 2, 3))
    return 10.0 * np.log10(4.0 / np.maximum(mse, 1e-12))


def clean_scan(L: tf.Tensor, scale: int) -> np.ndarray:
    """Model-range L [N, S, S, 1] -> its clean scan [N, S/scale, S/scale, 1]: bicubic,
    8-bit, as degrade.py makes one (DegradeConfig.clean)."""
    gray = tf.image.resize((L + 1.0) / 2.0, tf.shape(L)[1:3] // scale, method="bicubic",
                           antialias=True) if scale > 1 else (L + 1.0) / 2.0
    return (tf.round(tf.clip_by_value(gray, 0.0, 1.0) * 255.0) / 255.0 * 2.0 - 1.0).numpy()


def scans(source: sources.ImageSource, cfg: config.GateConfig
          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per scale of cfg.scales: (scans [n, S/scale, S/scale, 1] float16 in [-1, 1], labels
    [n] float32: 1 = degraded), n = cfg.scans // len(cfg.scales), S = cfg.image_size, fixed
    by cfg.seed. A scan is compared with its photo's clean scan at its own size."""
    out = []
    for scale in cfg.scales:
        ds = input_pipeline.train_dataset(source, image_size=cfg.image_size,
                                          batch_size=cfg.batch_size, seed=cfg.seed + scale,
                                          crop_area=(0.6, 1.0), old_photo=cfg.degrade,
                                          scale=scale)
        x, y, n, want = [], [], 0, cfg.scans // len(cfg.scales)
        for scan, L, _ in ds:
            scan = scan.numpy()
            x.append(scan.astype(np.float16))
            y.append((psnr_db(scan, clean_scan(L, scale)) < cfg.clean_db).astype(np.float32))
            n += len(scan)
            if n >= want:
                break
        out.append((np.concatenate(x)[:want], np.concatenate(y)[:want]))
    return out


def fit(restorer: restorer_lib.Restorer, source: sources.ImageSource,
        cfg: config.GateConfig) -> tuple[restorer_lib.Restorer, dict]:
    """-> (a copy of `restorer` with a gate trained on `source`'s photos, the card's
    "gate" entry: how it trained, each epoch's loss and the last one's accuracy)."""
    start = time.perf_counter()
    sets = scans(source, cfg)
    n = sum(len(x) for x, _ in sets)
    degraded = sum(float(y.sum()) for _, y in sets) / n
    logging.info("gate: %d scans (%.0f %% degraded) made in %.0f s", n, 100 * degraded,
                 time.perf_counter() - start)
    gated = restorer_lib.with_new_gate(restorer, cfg.seed)
    model = gated.gate
    # Each batch holds scans of one scale; an epoch visits every batch of every scale once.
    batches = [(k, b) for k, (x, _) in enumerate(sets)
               for b in range(max(1, len(x) // cfg.batch_size))]
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, len(batches) * cfg.epochs))
    levels = [restorer_lib.levels(tf.constant(x, tf.float32)).numpy() for x, _ in sets]

    @tf.function(reduce_retracing=True)
    def step(crops, lv, labels):
        with tf.GradientTape() as tape:
            logits = model(gate_lib.gate_input(crops, lv), training=True)[:, 0]
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
        right = tf.reduce_mean(tf.cast((logits > 0) == (labels > 0.5), tf.float32))
        return loss, right

    rng = np.random.default_rng(cfg.seed)
    start, epoch_losses = time.perf_counter(), []
    for epoch in range(1, cfg.epochs + 1):
        losses, rights = [], []
        orders = [rng.permutation(len(x)) for x, _ in sets]
        for i in rng.permutation(len(batches)):
            k, b = batches[i]
            (x, y), lv = sets[k], levels[k]
            j = orders[k][b * cfg.batch_size:(b + 1) * cfg.batch_size]
            # A random crop from half the scan's side (at least 64 px) to all of it.
            size = x.shape[1]
            side = int(rng.integers(min(size, max(64, size // 2)), size + 1))
            top, left = rng.integers(0, size - side + 1, 2)
            crops = tf.constant(x[j, top:top + side, left:left + side], tf.float32)
            loss, right = step(crops, tf.constant(lv[j]), tf.constant(y[j]))
            losses.append(float(loss))
            rights.append(float(right))
        spent = time.perf_counter() - start
        epoch_losses.append(round(float(np.mean(losses)), 4))
        logging.info("gate epoch %d/%d: loss %.4f, accuracy %.3f, %.0f batches/s, ETA %s",
                     epoch, cfg.epochs, np.mean(losses), np.mean(rights),
                     epoch * len(batches) / spent,
                     format_eta(spent / epoch * (cfg.epochs - epoch)))
    card = {"scans": n, "scales": list(cfg.scales), "degraded": round(degraded, 4),
            "epochs": cfg.epochs, "clean_db": cfg.clean_db, "seed": cfg.seed,
            "losses": epoch_losses, "accuracy": round(float(np.mean(rights)), 4)}
    if not math.isfinite(epoch_losses[-1]):
        raise FloatingPointError("the gate's loss is not finite")
    return gated, card
