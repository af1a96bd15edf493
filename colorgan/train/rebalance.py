"""Colour rebalancing of the L1 loss (Zhang et al. 2016, sec. 2.2, applied to regression).

Natural photos are dominated by low-saturation ab values (sky-gray, walls, shadows), so
a plain L1 loss pulls every uncertain pixel towards gray. Weighting each pixel by the
rarity of its true colour gives saturated colours a say:

  p    = the empirical ab distribution of the training photos on a BINS x BINS grid over
         the model range [-1, 1]^2, smoothed with a Gaussian of `sigma` bins;
  w(q) = 1 / ((1 - lam) p(q) + lam / Q), Q = the number of bins that occur,
         scaled so that E_p[w] = 1 under the smoothed p (the loss keeps its size),
         then capped at MAX_WEIGHT;
  lam  = 1 is no rebalancing (w = 1), 0 is full inverse frequency.

The prior is counted once from the training data (deterministically, so a resumed run
gets the same weights) and is a plain [BINS * BINS] float32 tensor in the train step.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BINS = 22  # 10 ab units per bin over [-110, 110], as Zhang et al.'s grid
MAX_WEIGHT = 20.0  # no pixel weighs more than this (the mean weight is 1)


def ab_histogram(batches, bins: int = BINS) -> np.ndarray:
    """Counts of ab (model range, [..., 2]) per grid bin over (L, ab) batches -> [bins, bins]."""
    counts = np.zeros((bins, bins), np.float64)
    for _, ab in batches:
        a, b = np.reshape(np.asarray(ab), [-1, 2]).T
        counts += np.histogram2d(a, b, bins=bins, range=[[-1, 1], [-1, 1]])[0]
    return counts


def _smooth(p: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D histogram (zero padding), sigma in bins."""
    if sigma <= 0:
        return p
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 0, p)
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 1, p)


def weights(counts: np.ndarray, lam: float, sigma: float = 0.5) -> np.ndarray:
    """[bins, bins] counts -> [bins * bins] float32 weights, E[w] = 1 under the smoothed
    prior (see the module doc)."""
    if counts.sum() <= 0:
        raise ValueError("no ab values counted")
    seen = counts > 0
    p = _smooth(counts / counts.sum(), sigma)
    p = np.where(seen, p, 0.0)
    p /= p.sum()
    w = np.zeros_like(p)
    w[seen] = 1.0 / ((1.0 - lam) * p[seen] + lam / seen.sum())
    w /= (p * w).sum()
    # Near lam = 0 a colour seen once would weigh ~1e4 x the mean: a loss spike (and fp16
    # overflow) whenever a batch holds it. Capped (the mean may then drop a little below 1).
    w[seen] = np.minimum(w[seen], MAX_WEIGHT)
    w[~seen] = w[seen].max()  # unseen bins: as rare as the rarest seen one
    return w.astype(np.float32).reshape(-1)


def pixel_weights(ab: tf.Tensor, table: tf.Tensor, bins: int = BINS) -> tf.Tensor:
    """ab [B, H, W, 2] in [-1, 1], table [bins * bins] -> per-pixel weights [B, H, W, 1]."""
    idx = tf.clip_by_value(tf.cast(tf.floor((ab + 1.0) * 0.5 * bins), tf.int32), 0, bins - 1)
    return tf.gather(table, idx[..., 0] * bins + idx[..., 1])[..., None]


def weighted_l1_loss(target: tf.Tensor, prediction: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    """[B]: mean over pixels of w(target colour) * |target - prediction| (ab model range)."""
    target = tf.cast(target, tf.float32)
    err = tf.abs(target - tf.cast(prediction, tf.float32)) * pixel_weights(target, table)
    return tf.reduce_mean(tf.reshape(err, [tf.shape(err)[0], -1]), axis=1)
