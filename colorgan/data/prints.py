"""How a print was made and how it aged unevenly, on its lightness: halftone screens
(newspaper and magazine prints), vignettes and light leaks; and photos dark or light on
purpose (`key`, on the colour photo itself: the truth, not a defect).

Each but `key` takes lightness [H, W, 1] float32 in [0, 1] and returns the same shape. The
halftone is the "unseen" family of the old-photo evaluation: the restorer never trains on
it (DegradeConfig.halftone is 0 unless asked), so scoring it shows how the restorer does
on scans made in a way it never saw.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

INK, PAPER = 0.06, 0.94  # a halftone's dot and the paper between them
BOXES = tuple(range(2, 9))  # the periods (px, rounded) a halftone's cell average is taken over


def _spot_ranks(n: int = 1024) -> np.ndarray:
    """[n] ascending: the quantiles of the cosine spot function over a cell, so that a
    spot value's rank is the share of the cell with a higher one."""
    t = (np.arange(256) + 0.5) / 256
    u, v = np.meshgrid(t, t)
    spot = (np.cos(2 * np.pi * u) + np.cos(2 * np.pi * v)) / 2
    return np.quantile(spot, (np.arange(n) + 0.5) / n).astype(np.float32)


_RANKS = _spot_ranks()


def halftone(gray: tf.Tensor, period: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """An amplitude-modulated screen: a grid of `period` px cells turned by `angle`
    (radians; newspapers use 45 degrees), ink INK and paper PAPER.

    Each cell is inked where the cosine spot function (cos 2 pi u + cos 2 pi v) / 2, highest
    at the cell's centre, is among the cell's highest d, d = (PAPER - gray) / (PAPER - INK)
    its darkness: round ink dots in the light tones, a checkerboard at mid-gray, round
    paper dots in the dark ones (the printer's "round dot" screen). A flat area's mean is
    its gray to within the pixel grid's rounding of the dots.
    """
    period = tf.cast(period, tf.float32)
    angle = tf.cast(angle, tf.float32)
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    y, x = tf.meshgrid(tf.range(h, dtype=tf.float32) + 0.5, tf.range(w, dtype=tf.float32) + 0.5,
                       indexing="ij")
    c, s = tf.cos(angle), tf.sin(angle)
    u, v = (c * x + s * y) / period, (-s * x + c * y) / period  # cell coordinates
    spot = (tf.cos(2 * math.pi * u) + tf.cos(2 * math.pi * v)) / 2
    # The share of the cell whose spot is higher than this pixel's.
    higher = 1.0 - tf.cast(tf.searchsorted(_RANKS, tf.reshape(spot, [-1])), tf.float32) / len(_RANKS)
    # The gray at the cell: the lightness averaged over a box of the period's size (a
    # pooling window must be Python ints, so one branch per whole period).
    k = tf.clip_by_value(tf.cast(tf.round(period), tf.int32), BOXES[0], BOXES[-1]) - BOXES[0]
    mean = tf.switch_case(k, [lambda b=b: tf.nn.avg_pool2d(gray[None], b, 1, "SAME")
                              for b in BOXES])[0, ..., 0]
    darkness = tf.clip_by_value((PAPER - mean) / (PAPER - INK), 0.0, 1.0)
    inked = tf.reshape(higher, tf.shape(spot)) < darkness
    return tf.where(inked, INK, PAPER)[..., None]


def vignette(gray: tf.Tensor, strength: tf.Tensor, center: tf.Tensor) -> tf.Tensor:
    """Uneven exposure or fading toward the edges: gray * (1 - strength * (d / d_max)^2),
    d the distance from `center` ([2], (y, x) as fractions of the height and width) and
    d_max the distance to the farthest corner. strength < 0 lightens the edges instead."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    y, x = tf.meshgrid(tf.range(h, dtype=tf.float32), tf.range(w, dtype=tf.float32), indexing="ij")
    cy, cx = center[0] * (hf - 1), center[1] * (wf - 1)
    d2 = tf.square(y - cy) + tf.square(x - cx)
    far = tf.reduce_max(tf.square(tf.stack([cy, hf - 1 - cy]))) + tf.reduce_max(
        tf.square(tf.stack([cx, wf - 1 - cx])))
    return gray * (1.0 - strength * d2 / tf.maximum(far, 1.0))[..., None]


def light_leak(gray: tf.Tensor, strength: tf.Tensor, edge: tf.Tensor,
               reach: tf.Tensor) -> tf.Tensor:
    """Light that reached the film through a gap: the print lifted toward white from one
    edge (0 top, 1 right, 2 bottom, 3 left), gray + (1 - gray) * strength * exp(-d / reach),
    d the distance from that edge as a fraction of the side across it."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    y, x = tf.meshgrid(tf.range(h, dtype=tf.float32) / tf.cast(tf.maximum(h - 1, 1), tf.float32),
                       tf.range(w, dtype=tf.float32) / tf.cast(tf.maximum(w - 1, 1), tf.float32),
                       indexing="ij")
    d = tf.gather(tf.stack([y, 1.0 - x, 1.0 - y, x]), edge)
    lift = strength * tf.exp(-d / reach)
    return gray + (1.0 - gray) * lift[..., None]


def key(rgb: tf.Tensor, light: tf.Tensor, gamma: tf.Tensor, reach: tf.Tensor) -> tf.Tensor:
    """A photo [H, W, 3] in [0, 1] made low-key (light False: x^gamma x reach, deep shadows
    and whites that never reach white) or high-key (light True: the mirror curve, lifted
    shadows), gamma >= 1, reach in (0, 1]: the photo's own tones, dark or light on purpose
    (DegradeConfig.keyed)."""
    dark = lambda x: tf.pow(x, gamma) * reach  # noqa: E731
    return tf.where(light, 1.0 - dark(1.0 - rgb), dark(rgb))
