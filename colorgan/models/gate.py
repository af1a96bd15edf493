"""The restoring gate: how much of the restorer's change a scan keeps, from how old it looks.

`--restore` on a clean photo, or on a deliberately dark or light one, must leave it as it
is: the restorer's levels stretch takes every photo for a faded print, and costs a clean
one 1.5 dB and a dark one 3.2 dB (docs/notes/restoration.md). Neither the levels nor the
finest band's noise tell a faded print from a dark photo; a small CNN on the scan's own
pixels does, from grain, blur and JPEG blocks together. It reads a centre crop of at most
CROP x CROP scan pixels at the scan's own resolution (a shrunk copy would average the grain
away) with the whole photo's levels, and gives `strength` in [0, 1], the probability that
the scan is degraded, snapped to exactly 0 and 1 near the ends. Restoring then keeps

    base + strength * (restored - base)

where base is the scan itself at 1x and the restorer's super-resolution at 2x and 4x
(serve/tiles.restore_photo). Trained after the restorer, apart from it
(train/gate_fit.py): its label is whether the scan differs from its clean photo (L* PSNR
below GateConfig.clean_db).
"""

from __future__ import annotations

import keras
import tensorflow as tf

CROP = 256  # the centre crop's side, scan pixels: the training scans' size
SNAP = 0.02  # strengths within this of 0 or 1 become 0 or 1: the other pass is skipped


class FinestBand(keras.layers.Layer):
    """[B, H, W, C] -> [B, 2]: log mean |HH| and log mean HH^2 of the finest Haar diagonal
    band of channel 0 (grain and JPEG blocks live there; a clean bicubic scan has little)."""

    def call(self, x):
        x = x[..., :1]
        hh = x[:, 1:, 1:] - x[:, :-1, 1:] - x[:, 1:, :-1] + x[:, :-1, :-1]
        return tf.stack([tf.math.log(tf.reduce_mean(tf.abs(hh), [1, 2, 3]) + 1e-4),
                         tf.math.log(tf.reduce_mean(tf.square(hh), [1, 2, 3]) + 1e-6)], 1)


def build(channels: int = 16) -> keras.Model:
    """[B, h, w, 3] (the crop's L in [-1, 1], and its photo's two levels as constant planes:
    `gate_input`) -> logit [B, 1] of "the scan is degraded". Any h, w >= 2."""
    inputs = keras.Input((None, None, 3), name="gate_in")
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu",
                            name="gate_conv0")(inputs[..., :1])
    for i, width in enumerate((2 * channels, 4 * channels, 4 * channels), start=1):
        x = keras.layers.Conv2D(width, 3, 2, padding="same", activation="relu",
                                name=f"gate_conv{i}")(x)
    levels = keras.layers.GlobalAveragePooling2D(name="gate_levels")(inputs[..., 1:])
    x = keras.layers.Concatenate(name="gate_features")([
        keras.layers.GlobalAveragePooling2D(name="gate_mean")(x),
        keras.layers.GlobalMaxPooling2D(name="gate_max")(x),
        levels, FinestBand(name="gate_band")(inputs)])
    x = keras.layers.Dense(2 * channels, activation="relu", name="gate_dense")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="gate_logit")(x), name="gate")


def crop(L: tf.Tensor, side: int = CROP) -> tf.Tensor:
    """L [B, H, W, 1] -> its centre [B, min(H, side), min(W, side), 1]."""
    h, w = tf.shape(L)[1], tf.shape(L)[2]
    ch, cw = tf.minimum(h, side), tf.minimum(w, side)
    top, left = (h - ch) // 2, (w - cw) // 2
    return L[:, top:top + ch, left:left + cw]


def gate_input(L: tf.Tensor, lv: tf.Tensor) -> tf.Tensor:
    """A whole photo's L [B, H, W, 1] and its levels [B, 2] -> the gate's input [B, h, w, 3]:
    the centre crop, and the levels as constant planes (one input, so the gate converts to
    LiteRT as the restorer's other networks do)."""
    c = crop(L)
    planes = tf.ones_like(c) * lv[:, None, None, :]
    return tf.concat([c, planes], axis=-1)


def snap(p: tf.Tensor) -> tf.Tensor:
    """Probability [B] -> strength [B] in [0, 1]: exactly 0 below SNAP, 1 above 1 - SNAP,
    linear between."""
    return tf.clip_by_value((p - SNAP) / (1.0 - 2.0 * SNAP), 0.0, 1.0)


def strength(logits: tf.Tensor) -> tf.Tensor:
    """The gate's logits [B, 1] -> strength [B] (snap of the probability)."""
    return snap(tf.sigmoid(tf.cast(logits[:, 0], tf.float32)))
