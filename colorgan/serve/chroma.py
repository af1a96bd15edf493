"""Edge-aware smoothing of predicted chroma: the guided filter (He, Sun & Tang, ECCV 2010).

A regression colorizer trained on few photos paints low-frequency pastel blotches on
plain surfaces (a pink patch beside a blue one on one grey wall). The guided filter with
the input L as guide makes ab locally an affine function of L: within a region of even
lightness the colour becomes one colour, while it still follows every edge of L. It runs
at the render size (128² for the shipped model), so it costs the same at any photo size.
"""

from __future__ import annotations

import tensorflow as tf


def _window_sum(x: tf.Tensor, radius: tf.Tensor, axis: int) -> tf.Tensor:
    """Sums over the window [i - radius, i + radius] along `axis`, clipped at the borders."""
    n = tf.shape(x)[axis]
    padded = tf.concat([tf.zeros_like(tf.gather(x, [0], axis=axis)),
                        tf.cumsum(x, axis=axis)], axis=axis)  # padded[i] = sum of x[:i]
    idx = tf.range(n)
    hi = tf.minimum(idx + radius + 1, n)
    lo = tf.maximum(idx - radius, 0)
    return tf.gather(padded, hi, axis=axis) - tf.gather(padded, lo, axis=axis)


def _box_sum(x: tf.Tensor, radius: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> the sum over each (2r+1)² window, windows clipped at the borders."""
    return _window_sum(_window_sum(x, radius, 1), radius, 2)


def _window_count(x: tf.Tensor, radius: tf.Tensor) -> tf.Tensor:
    """[1, H, W, 1]: how many pixels of x's [H, W] each clipped window holds."""
    return _box_sum(tf.ones_like(x[:1, :, :, :1]), radius)


def box_mean(x: tf.Tensor, radius: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> the mean over each (2r+1)² window, windows clipped at the borders.

    Integral images, so the cost does not grow with the radius, and the radius may be a
    tensor (the render size is a serving input).
    """
    return _box_sum(x, radius) / _window_count(x, radius)


def guided_filter(guide: tf.Tensor, src: tf.Tensor, radius: tf.Tensor,
                  eps: float = 0.01) -> tf.Tensor:
    """guide [B, H, W, 1], src [B, H, W, C] -> src smoothed along guide's edges, [B, H, W, C].

    eps is in the guide's units squared (L in [-1, 1]: 0.01 keeps edges whose local
    standard deviation exceeds ~0.1, i.e. ~5 L* units).

    He et al.'s six box means, as two over stacked channels and one window count: each
    channel's sums run along the same axes in the same order, so the result is the same to
    the bit, from a quarter of the ops (a graph traces in less time, and runs fewer kernels).
    """
    c = src.shape[-1] if src.shape[-1] is not None else tf.shape(src)[-1]
    count = _window_count(guide, radius)
    means = _box_sum(tf.concat([guide, src, guide * src, guide * guide], -1), radius) / count
    mean_i, mean_p, mean_ip, mean_ii = tf.split(means, [1, c, c, 1], axis=-1)
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)  # cov / (var + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = tf.split(_box_sum(tf.concat([a, b], -1), radius) / count, 2, axis=-1)
    return mean_a * guide + mean_b
