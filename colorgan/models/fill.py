"""Push-pull fill: masked pixels replaced by a smooth blend of the pixels around them.

The restorer sees 16 px around a pixel, not enough to paint over a stain or a torn corner,
and a bright scratch left in its input pulls its output up. So the scan's defects are
first filled from their surroundings, at every scale at once (Gortler et al.'s push-pull,
the pyramid that inpainting networks such as LaMa start from as a baseline): the known
pixels are averaged down a pyramid, each level weighing a pixel by how much of it is
known, and the coarse averages are pulled back up into the holes. The restorer then adds
texture where the mask says it may.
"""

from __future__ import annotations

import tensorflow as tf

LEVELS = 10  # holes up to ~2^10 px across fill from their edges; smaller photos stop early
_EPS = 1e-6


def push_pull(image: tf.Tensor, mask: tf.Tensor, levels: int = LEVELS) -> tf.Tensor:
    """image [B, H, W, C], mask [B, H, W, 1] in [0, 1] (1 = unknown) -> [B, H, W, C]:
    pixels with mask 1 replaced by the pyramid fill, the others exactly as they were (a
    mask value between 0 and 1 blends the two). A photo with nothing known stays as it was.
    """
    image = tf.convert_to_tensor(image, tf.float32)
    mask = tf.convert_to_tensor(mask, tf.float32)
    known = 1.0 - mask
    values, weights = [image * known], [known]
    for _ in range(levels):  # push: known-weighted averages, level by level
        v = tf.nn.avg_pool2d(values[-1], 2, 2, "SAME")
        w = tf.nn.avg_pool2d(weights[-1], 2, 2, "SAME")
        values.append(v)
        weights.append(w)
    # The coarsest level's known-weighted mean; a coarsest cell with nothing known (a hole
    # wider than 2^levels px) stays 0, mid-gray in the model range. A photo with nothing
    # known at all is kept as it was (below).
    filled = values[-1] / tf.maximum(weights[-1], _EPS)
    for v, w in zip(reversed(values[:-1]), reversed(weights[:-1])):  # pull
        up = tf.image.resize(filled, tf.shape(v)[1:3], method="bilinear")
        mean = v / tf.maximum(w, _EPS)
        # A pixel known in full keeps its own average; a partly known one blends toward
        # the coarser fill (weight x 2 saturates: half-known already counts as known).
        trust = tf.minimum(2.0 * w, 1.0)
        filled = trust * mean + (1.0 - trust) * up
    nothing = tf.reduce_max(known, axis=[1, 2, 3], keepdims=True) == 0
    filled = tf.where(nothing, image, filled)
    return known * image + mask * filled
