"""Colour from a reference photo: a dense soft correspondence of deep features (He et al.
2018, "Deep Exemplar-based Colorization"; Zhang et al. 2019 for video).

Both photos enter as lightness only, so the features see the same kind of image: the
target's VGG16 relu3_3, relu4_3 and relu5_3 (S/4, S/8, S/16 of its render side) are
brought to the relu3_3 grid, each layer centred on its photo's mean feature and scaled to
unit length, and joined. Every target cell takes the reference's colour as a softmax over
all reference cells of their cosine similarity (temperature TEMPERATURE), and a confidence:
its best similarity. Confident cells become dense hints for the edge-aware propagation
(models/propagation.py); where the match is weak the automatic colour stays.

Shapes: features [B, h, w, C] float32; ab [B, h, w, 2] in the model range; the cost is
(h w) x (hr wr) per image (a 128 px render: 1,024 x 1,024 cells).
"""

from __future__ import annotations

import tensorflow as tf

LAYERS = (2, 3, 4)  # relu3_3, relu4_3, relu5_3 in the VGG16 trunk's outputs
TEMPERATURE = 0.01  # as Zhang et al. 2019: close to a hard best match, still smooth
# A cell's match counts fully above HIGH and not at all below LOW (its cosine similarity of
# centred features, so an unrelated photo's cells mostly score below 0.3). Measured on
# samples:val at 256 (docs/notes/reference.md): 0.3/0.6 keep +4.9 dB on the same scene,
# 0.25/0.55 +5.6, 0.2/0.5 +6.2 with an unrelated photo +0.06 dB, and 0.1/0.4 -0.59 there.
LOW, HIGH = 0.25, 0.55
# The largest target side matched (a larger render is matched at this side): the similarity
# matrix has (side / 4)^4 entries, 16.8 M (67 MB) at 256, 268 M at 512.
MATCH_SIDE = 256
# A reference whose mean Lab chroma is below this has no colour to give (the training
# sources' --min_chroma default).
MIN_CHROMA = 3.0


def describe(trunk: list[tf.Tensor]) -> tf.Tensor:
    """The VGG16 trunk's outputs (relu1_2 .. relu5_3) -> matching features [B, h, w, C] on
    relu3_3's grid, unit length per cell (each layer a third of it)."""
    grid = tf.shape(trunk[LAYERS[0]])[1:3]
    parts = []
    for index in LAYERS:
        f = tf.cast(trunk[index], tf.float32)
        f = f - tf.reduce_mean(f, axis=[1, 2], keepdims=True)  # what sets a cell apart
        f = f / (tf.norm(f, axis=-1, keepdims=True) + 1e-6)
        parts.append(tf.image.resize(f, grid, method="bilinear") if index != LAYERS[0] else f)
    joined = tf.concat(parts, -1)
    return joined / (tf.norm(joined, axis=-1, keepdims=True) + 1e-6)


def match(target: tf.Tensor, reference: tf.Tensor, reference_ab: tf.Tensor,
          temperature: float = TEMPERATURE) -> tuple[tf.Tensor, tf.Tensor]:
    """target features [B, h, w, C], reference features [R, hr, wr, C] and the
    reference's ab on that grid [R, hr, wr, 2], R = B (one reference per target) or 1 (one
    for all) -> (its ab warped to the target [B, h, w, 2], confidence [B, h, w, 1]: each
    cell's best cosine similarity, in [-1, 1])."""
    shape = tf.shape(target)
    t = tf.reshape(target, [shape[0], -1, shape[3]])
    r = tf.reshape(reference, [tf.shape(reference)[0], -1, shape[3]])
    similarity = tf.matmul(t, r, transpose_b=True)  # [B, h w, hr wr]; R = 1 broadcasts
    weights = tf.nn.softmax(similarity / temperature, axis=-1)
    ab = tf.matmul(weights, tf.reshape(tf.cast(reference_ab, tf.float32),
                                       [tf.shape(reference_ab)[0], -1, 2]))
    best = tf.reduce_max(similarity, axis=-1, keepdims=True)
    return (tf.reshape(ab, tf.concat([shape[:3], [2]], 0)),
            tf.reshape(best, tf.concat([shape[:3], [1]], 0)))


def gate(confidence: tf.Tensor, low: float = LOW, high: float = HIGH) -> tf.Tensor:
    """Confidence -> the hint mask in [0, 1]: 0 below `low`, 1 above `high`, linear between."""
    return tf.clip_by_value((confidence - low) / (high - low), 0.0, 1.0)
