"""The defect finder: an old print's scan -> where its dust, hairs, scratches, folds and
torn corners are (data/defects.py draws what it learns from).

A small U-Net (three stride-2 levels, `channels`, 2x and 4x that wide): a scratch is
told from an edge of the photo by its length and straightness, which a receptive field of
~60-70 px sees and the restorer's 35 px does not. Its input is the restorer's first two
channels (the scan's L and its levels stretch, models/restorer.model_input); its output,
logits of "a defect's pixel". Trained with the restorer (train/restorer_fit.py), or on its
own onto a trained one (train/finder_fit.py), on the masks of degrade.old_photo_and_defects.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

LEVELS = 3  # stride-2 levels: sides are padded to a multiple of 2^LEVELS


class Grow(keras.layers.Layer):
    """[B, H, W, C] -> [B, 2 H, 2 W, C], each pixel repeated (UpSampling2D's nearest, equal
    for a factor of 2), as one resize: LiteRT's RESIZE_NEAREST_NEIGHBOR, where UpSampling2D
    on free sizes converts to a tile and reshape that lose the channel count."""

    def call(self, x):
        return tf.image.resize(x, tf.shape(x)[1:3] * 2, method="nearest")


def build(channels: int, dtype: str | None = None) -> keras.Model:
    """[B, H, W, 2] (H, W multiples of 8) -> logits [B, H, W, 1] float32; `dtype` the
    layers' Keras dtype policy (models/restorer.Restorer's)."""

    def conv(width, name, stride=1):
        return keras.layers.Conv2D(width, 3, stride, padding="same", activation="relu",
                                   name=f"finder_{name}", dtype=dtype)

    inputs = keras.Input((None, None, 2), name="finder_in")
    x = conv(channels, "in_b")(conv(channels, "in_a")(inputs))
    skips = [x]
    for i in range(LEVELS):
        width = channels * min(2 ** (i + 1), 4)
        x = conv(width, f"down{i}_b")(conv(width, f"down{i}_a", 2)(x))
        skips.append(x)
    for i in reversed(range(LEVELS)):
        width = channels * min(2 ** i, 4)
        x = Grow(name=f"finder_grow{i}", dtype=dtype)(x)
        x = keras.layers.Concatenate(name=f"finder_join{i}", dtype=dtype)([x, skips[i]])
        x = conv(width, f"up{i}")(x)
    # Started at a 1 % prior (RetinaNet's): an untrained finder finds nothing, so a fresh
    # restorer restores as one without defects does, and the rare positives do not swamp
    # the first steps' loss.
    prior = keras.initializers.Constant(math.log(0.01 / 0.99))
    logits = keras.layers.Conv2D(1, 1, bias_initializer=prior, name="finder_out",
                                 dtype=dtype)(x)
    logits = keras.layers.Activation("linear", dtype="float32", name="finder_logits")(logits)
    return keras.Model(inputs, logits, name="defect_finder")


def logits(finder: keras.Model, x: tf.Tensor, training: bool = False) -> tf.Tensor:
    """x [B, H, W, 2] of any H, W -> logits [B, H, W, 1]: padded by reflection to a
    multiple of 2^LEVELS on the bottom and right, and cropped back."""
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    m = 2 ** LEVELS
    ph, pw = (m - h % m) % m, (m - w % m) % m
    # The last row and column repeated: works for any side (REFLECT needs a side over the
    # pad), and draws no edge a defect could be seen in.
    padded = tf.concat([x, tf.repeat(x[:, -1:], ph, axis=1)], axis=1)
    padded = tf.concat([padded, tf.repeat(padded[:, :, -1:], pw, axis=2)], axis=2)
    return finder(padded, training=training)[:, :h, :w]


def marks(logits: tf.Tensor) -> tf.Tensor:
    """The finder's logits -> its mask in {0, 1}, same shape: probability >= 0.5."""
    return tf.cast(logits >= 0.0, tf.float32)
