"""sRGB (D65) <-> CIE Lab and YUV in pure TensorFlow, and both <-> the models' value range.

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

YUV (BT.601, on gamma-encoded sRGB, the matrix of `skimage.color.rgb2yuv` and
`tf.image.rgb_to_yuv`) is the alternative space (`ColorSpace`, `SPACES`):
  Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]
  model input 2Y - 1 in [-1, 1]; model target (U/0.5, V/0.7), within +-0.88.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from colorgan.errors import UserError

_XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
# The white point is folded into the 3x3 maps, computed in float64 (skimage inverts the
# matrix in float64 too) and applied in float32.
_XYZN_FROM_RGB = _XYZ_FROM_RGB / _WHITE_D65[:, None]  # linear RGB -> XYZ / white
_RGB_FROM_XYZN = np.linalg.inv(_XYZ_FROM_RGB) * _WHITE_D65[None, :]
AB_SCALE = 110.0


def _pow(x: tf.Tensor, exponent: float) -> tf.Tensor:
    """x ** exponent for x > 0 as exp(k log x): ~4x faster than tf.pow on CPU (measured)."""
    return tf.exp(exponent * tf.math.log(x))


def _linearize(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB gamma expansion; tf.maximum keeps log's argument positive so gradients stay finite."""
    return tf.where(rgb > 0.04045, _pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4),
                    rgb / 12.92)


def _f(t: tf.Tensor) -> tf.Tensor:
    """CIE Lab's companding function (cube root with a linear toe)."""
    return tf.where(t > 0.008856, _pow(tf.maximum(t, 0.008856), 1.0 / 3.0),
                    7.787 * t + 16.0 / 116.0)


def _affine(x: tf.Tensor, matrix: np.ndarray, bias: np.ndarray | None = None) -> tf.Tensor:
    """x @ matrix.T (+ bias) over the last axis of x ([..., k] -> [..., rows])."""
    flat = tf.reshape(x, [-1, matrix.shape[1]])
    out = tf.matmul(flat, tf.constant(matrix.T, tf.float32))
    if bias is not None:
        out = out + tf.constant(bias, tf.float32)
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [matrix.shape[0]]], axis=0))


def _mix(matrix: np.ndarray, row: int, channels: list[tf.Tensor]) -> tf.Tensor:
    """sum_j matrix[row, j] * channels[j], as elementwise multiply-adds."""
    out = float(matrix[row, 0]) * channels[0]
    for j in range(1, len(channels)):
        out = out + float(matrix[row, j]) * channels[j]
    return out


# The 3x3 steps are multiply-adds on each channel: 2-3x faster than one matmul over [N, 3]
# (whose inner dimension of 3 starves the kernel) at every size from a 16 x 64^2 batch to
# a 4 MP photo (measured, docs/notes/colour.md); colorizing a tree is dominated by them.
def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """[..., 3] sRGB in [0, 1] -> [..., 3] Lab (L in [0, 100])."""
    linear = _linearize(tf.convert_to_tensor(rgb, tf.float32))
    channels = [linear[..., i] for i in range(3)]
    fx, fy, fz = (_f(_mix(_XYZN_FROM_RGB, i, channels)) for i in range(3))
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lightness(rgb: tf.Tensor) -> tf.Tensor:
    """[..., 3] sRGB in [0, 1] -> [..., 1] Lab L in [0, 100]; a third of rgb_to_lab's work."""
    linear = _linearize(tf.convert_to_tensor(rgb, tf.float32))
    y = _mix(_XYZN_FROM_RGB, 1, [linear[..., i] for i in range(3)])  # Y / Y_white
    return (116.0 * _f(y) - 16.0)[..., None]


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """[..., 3] Lab -> [..., 3] sRGB clipped to [0, 1]; out-of-gamut Lab is clipped, never NaN."""
    lab = tf.convert_to_tensor(lab, tf.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = tf.maximum(fy - lab[..., 2] / 200.0, 0.0)  # skimage clips z < 0
    xyz = [tf.where(f > 0.2068966, f * f * f, (f - 16.0 / 116.0) / 7.787) for f in (fx, fy, fz)]
    rgb = []
    for i in range(3):
        linear = _mix(_RGB_FROM_XYZN, i, xyz)
        rgb.append(tf.where(linear > 0.0031308,
                            1.055 * _pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
                            linear * 12.92))
    return tf.clip_by_value(tf.stack(rgb, axis=-1), 0.0, 1.0)


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


# --------------------------------------------------------------------------- YUV

_YUV_FROM_RGB = np.array([[0.299, 0.587, 0.114],
                          [-0.14714119, -0.28886916, 0.43601035],
                          [0.61497538, -0.51496512, -0.10001026]])
_RGB_FROM_YUV = np.linalg.inv(_YUV_FROM_RGB)
UV_SCALE = (0.5, 0.7)  # |U| <= 0.436, |V| <= 0.615 for sRGB: tanh stays clear of saturation


def rgb_to_yuv(rgb: tf.Tensor) -> tf.Tensor:
    """[..., 3] sRGB in [0, 1] -> [..., 3] YUV (BT.601): Y in [0, 1], U, V signed."""
    return _affine(tf.convert_to_tensor(rgb, tf.float32), _YUV_FROM_RGB)


def yuv_to_rgb(yuv: tf.Tensor) -> tf.Tensor:
    """[..., 3] YUV -> [..., 3] sRGB clipped to [0, 1] (out-of-gamut YUV is clipped)."""
    rgb = _affine(tf.convert_to_tensor(yuv, tf.float32), _RGB_FROM_YUV)
    return tf.clip_by_value(rgb, 0.0, 1.0)


def rgb_to_yuv_model(rgb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """[..., 3] RGB in [0, 1] -> (Y [..., 1] in [-1, 1], UV [..., 2] scaled by 1/UV_SCALE)."""
    yuv = rgb_to_yuv(rgb)
    return yuv[..., :1] * 2.0 - 1.0, yuv[..., 1:] / tf.constant(UV_SCALE, tf.float32)


def yuv_model_to_rgb(Y: tf.Tensor, uv: tf.Tensor) -> tf.Tensor:
    """(Y [..., 1], UV [..., 2]) in the models' range -> [..., 3] RGB in [0, 1]."""
    Y = (tf.convert_to_tensor(Y, tf.float32) + 1.0) * 0.5
    uv = tf.cast(uv, tf.float32) * tf.constant(UV_SCALE, tf.float32)
    return yuv_to_rgb(tf.concat([Y, uv], axis=-1))


def _yuv_model_input(rgb: tf.Tensor) -> tf.Tensor:
    rgb = tf.convert_to_tensor(rgb, tf.float32)
    return _affine(rgb, _YUV_FROM_RGB[:1]) * 2.0 - 1.0


def _lab_model_input(rgb: tf.Tensor) -> tf.Tensor:
    return lightness(rgb) / 50.0 - 1.0


# ------------------------------------------------------------------- colour spaces

@dataclass(frozen=True)
class ColorSpace:
    """One colour space as the models see it: a 1-channel input, a 2-channel target.

    to_model:    RGB [..., 3] in [0, 1] -> (input [..., 1] in [-1, 1], target [..., 2])
    to_rgb:      (input, target) in model range -> RGB [..., 3] in [0, 1]
    model_input: RGB -> input alone (cheaper: serving computes it at full resolution)
    """

    name: str
    to_model: Callable
    to_rgb: Callable
    model_input: Callable

    def gray_rgb(self, x: tf.Tensor) -> tf.Tensor:
        """Input [..., 1] -> the RGB image with that lightness and no colour."""
        return self.to_rgb(x, tf.zeros(tf.concat([tf.shape(x)[:-1], [2]], 0), tf.float32))


# Keyed by config.COLOR_SPACES, the --color_space choices (tests/test_config_flags.py
# checks that the two agree; config.py cannot import this TensorFlow module).
SPACES = {
    "lab": ColorSpace("lab", rgb_to_model, model_to_rgb, _lab_model_input),
    "yuv": ColorSpace("yuv", rgb_to_yuv_model, yuv_model_to_rgb, _yuv_model_input),
}


def get_space(name: str) -> ColorSpace:
    try:
        return SPACES[name]
    except KeyError:
        raise UserError(f"color_space={name!r} is unknown; choose one of {sorted(SPACES)}") from None
