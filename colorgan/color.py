"""sRGB (D65) <-> CIE Lab in pure TensorFlow, and Lab <-> the models' value range.

Follows the same formulas and constants as `skimage.color.rgb2lab` / `lab2rgb`
(sRGB matrix, D65 2-degree white, the 0.008856 / 7.787 linear segment), so the two
agree to ~1e-4. All functions take any leading batch shape `[..., 3]`, float32,
and run eagerly, in `tf.function` and in `Dataset.map` alike.

Value ranges:
  RGB  in [0, 1]
  L    in [0, 100];  a, b within about [-86, 98] x [-108, 95] for sRGB colours
  model input  L/50 - 1        in [-1, 1]
  model target ab/110          in about [-0.98, 0.89]: 110 rather than 128 so the
                               tanh output reaches every sRGB colour without saturating.
"""

import numpy as np
import tensorflow as tf

_XYZ_FROM_RGB = [[0.412453, 0.357580, 0.180423],
                 [0.212671, 0.715160, 0.072169],
                 [0.019334, 0.119193, 0.950227]]
_WHITE_D65 = (0.95047, 1.0, 1.08883)
# Inverted in float64, as skimage does, then used in float32.
_RGB_FROM_XYZ = np.linalg.inv(np.array(_XYZ_FROM_RGB, np.float64)).tolist()
AB_SCALE = 110.0


def _matmul3(x: tf.Tensor, m) -> tf.Tensor:
    """x @ m.T over the last axis of x ([..., 3])."""
    return tf.einsum("...j,ij->...i", x, tf.constant(m, dtype=x.dtype))


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """[..., 3] sRGB in [0, 1] -> [..., 3] Lab (L in [0, 100])."""
    rgb = tf.convert_to_tensor(rgb, tf.float32)
    # Linearize; tf.maximum keeps pow's argument positive so gradients stay finite.
    linear = tf.where(rgb > 0.04045,
                      tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4),
                      rgb / 12.92)
    xyz = _matmul3(linear, _XYZ_FROM_RGB) / tf.constant(_WHITE_D65)
    f = tf.where(xyz > 0.008856,
                 tf.pow(tf.maximum(xyz, 0.008856), 1.0 / 3.0),
                 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """[..., 3] Lab -> [..., 3] sRGB clipped to [0, 1]; out-of-gamut Lab is clipped, never NaN."""
    lab = tf.convert_to_tensor(lab, tf.float32)
    L, a, b = tf.unstack(lab, axis=-1)
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = tf.maximum(fy - b / 200.0, 0.0)  # skimage also clips z < 0 to 0
    f = tf.stack([fx, fy, fz], axis=-1)
    xyz = tf.where(f > 0.2068966, tf.pow(f, 3.0), (f - 16.0 / 116.0) / 7.787)
    xyz = xyz * tf.constant(_WHITE_D65)
    linear = _matmul3(xyz, _RGB_FROM_XYZ)
    rgb = tf.where(linear > 0.0031308,
                   1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
                   linear * 12.92)
    return tf.clip_by_value(rgb, 0.0, 1.0)


def lab_to_model(lab: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """[..., 3] Lab -> (L [..., 1] in [-1, 1], ab [..., 2] scaled by 1/110)."""
    return lab[..., :1] / 50.0 - 1.0, lab[..., 1:] / AB_SCALE


def model_to_lab(L: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
    """(L [..., 1] in [-1, 1], ab [..., 2] model range) -> [..., 3] Lab."""
    L = tf.convert_to_tensor(L, tf.float32)
    ab = tf.cast(ab, tf.float32)
    return tf.concat([(L + 1.0) * 50.0, ab * AB_SCALE], axis=-1)


def rgb_to_model(rgb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """[..., 3] RGB in [0, 1] -> (L [..., 1], ab [..., 2]) in the models' range."""
    return lab_to_model(rgb_to_lab(rgb))


def model_to_rgb(L: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
    """(L [..., 1], ab [..., 2]) in the models' range -> [..., 3] RGB in [0, 1]."""
    return lab_to_rgb(model_to_lab(L, ab))


def gray_rgb(L: tf.Tensor) -> tf.Tensor:
    """L [..., 1] in the model's range -> the grayscale RGB image with that lightness."""
    return model_to_rgb(L, tf.zeros(tf.concat([tf.shape(L)[:-1], [2]], 0), tf.float32))


def mean_chroma(lab: tf.Tensor) -> tf.Tensor:
    """[..., H, W, 3] Lab -> [...] mean of sqrt(a^2 + b^2); ~0 for grayscale images."""
    return tf.reduce_mean(tf.norm(lab[..., 1:], axis=-1), axis=[-2, -1])
