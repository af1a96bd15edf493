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


def box_mean(x: tf.Tensor, radius: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> the mean over each (2r+1)² window, windows clipped at the borders.

    Integral images, so the cost does not grow with the radius, and the radius may be a
    tensor (the render size is a serving input).
    """
    ones = tf.ones_like(x[:1, :, :, :1])
    count = _window_sum(_window_sum(ones, radius, 1), radius, 2)
    return _window_sum(_window_sum(x, radius, 1), radius, 2) / count


def guided_filter(guide: tf.Tensor, src: tf.Tensor, radius: tf.Tensor,
                  eps: float = 0.01) -> tf.Tensor:
    """guide [B, H, W, 1], src [B, H, W, C] -> src smoothed along guide's edges, [B, H, W, C].

    eps is in the guide's units squared (L in [-1, 1]: 0.01 keeps edges whose local
    standard deviation exceeds ~0.1, i.e. ~5 L* units).
    """
    mean_i, mean_p = box_mean(guide, radius), box_mean(src, radius)
    cov = box_mean(guide * src, radius) - mean_i * mean_p
    var = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)
