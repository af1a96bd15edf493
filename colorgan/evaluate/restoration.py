"""Old-photo evaluation pairs and the restorer's lightness scores.

The pairs are the evaluation protocol's crops (shorter side to `size`, centre square,
protocol.py) each turned into an old-photo scan by data/degrade.py with the seed
(seed, index of the photo): the same scans on every run and machine. With
DegradeConfig(clean=1) a scan is the crop bicubic-downscaled and stored in 8 bits, the
super-resolution papers' setting (`CLEAN`).

Lightness is scored as SR papers score Y: PSNR and SSIM on L* scaled to 0..255.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from colorgan import color
from colorgan.config import DegradeConfig
from colorgan.data import degrade, input_pipeline, sources
from colorgan.evaluate import metrics

CLEAN = DegradeConfig(clean=1.0)
AUTOTUNE = tf.data.AUTOTUNE


def old_photo_pairs(source: sources.ImageSource, *, size: int = 256, scale: int = 1,
                    seed: int = 0, degradation: DegradeConfig = DegradeConfig(),
                    batch_size: int = 8, limit: int | None = None,
                    with_mask: bool = False) -> tf.data.Dataset:
    """Batches of (scan [b, size/scale, size/scale, 1] in [-1, 1], truth RGB [b, size, size,
    3] in [0, 1]), in the source's order; `with_mask`: (scan, defect mask [b, size/scale,
    size/scale, 1] in {0, 1} (degrade.old_photo_and_defects), truth)."""
    if size % scale:
        raise ValueError(f"size={size} is not a multiple of scale={scale}")
    ds = source.ordered_images(size)
    if limit is not None:
        ds = ds.take(limit)

    def pair(index, image):
        crop = input_pipeline.eval_crop(image, size)
        seed_pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])
        scan, mask = degrade.old_photo_and_defects(crop, degradation, seed_pair, scale)
        return (scan * 2.0 - 1.0, mask, crop) if with_mask else (scan * 2.0 - 1.0, crop)

    return ds.enumerate().map(sources.plain(pair), num_parallel_calls=AUTOTUNE).batch(batch_size)


def defect_residue(L: tf.Tensor, truth_L: tf.Tensor, mask: tf.Tensor,
                   ring: int = 4) -> tf.Tensor:
    """How much of the defects is left: the mean |L - truth| inside the defect mask minus the
    same in a `ring`-pixel band around it, in gray levels (L*, 0..255), per photo [B] (NaN
    for a photo without defects). L, truth_L [B, H, W, 1] model range; mask [B, h, w, 1]
    at the scan's size, taken to H x W by nearest neighbour. 0 = the defects are gone (as
    good as their surroundings); the scan's own value is what there was to remove."""
    mask = tf.image.resize(mask, tf.shape(L)[1:3], method="nearest")
    near = tf.nn.max_pool2d(mask, 2 * ring + 1, 1, "SAME") - mask
    err = tf.abs(lightness_255(L) - lightness_255(truth_L))

    def mean_in(where):
        n = tf.reduce_sum(where, axis=[1, 2, 3])
        return tf.reduce_sum(err * where, axis=[1, 2, 3]) / tf.maximum(n, 1.0), n

    inside, n = mean_in(mask)
    around, _ = mean_in(near)
    return tf.where(n > 0, inside - around, float("nan"))


def upscale(L: tf.Tensor, scale: int, method: str = "bicubic") -> tf.Tensor:
    """[B, h, w, 1] -> [B, scale h, scale w, 1], the baseline a restorer must beat."""
    if scale == 1:
        return L
    size = tf.shape(L)[1:3] * scale
    return tf.image.resize(L, size, method=method)


def lightness_255(L: tf.Tensor) -> tf.Tensor:
    """Model-range L [-1, 1] -> L* scaled to 0..255, clipped (as a saved photo would be)."""
    return tf.clip_by_value((tf.cast(L, tf.float32) + 1.0) * 127.5, 0.0, 255.0)


def truth_lightness(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB [B, H, W, 3] in [0, 1] -> model-range L [B, H, W, 1]."""
    return color.lightness(rgb) / 50.0 - 1.0


def shave(x: tf.Tensor, border: int) -> tf.Tensor:
    """[B, H, W, C] without `border` pixels on each side (SR papers leave out `scale`)."""
    return x[:, border:-border, border:-border, :] if border else x


def lightness_scores(pairs: tf.data.Dataset, restore, scale: int, border: int = 0) -> dict:
    """{"restored": {psnr, ssim}, "bicubic": {psnr, ssim}} on L* over all pairs, `border`
    pixels on each side left out; `restore` maps a scan batch to model-range L at
    `scale`x."""
    got: dict[str, dict[str, list]] = {k: {"psnr": [], "ssim": []} for k in ("restored", "bicubic")}
    for scan, rgb in pairs:
        truth = shave(lightness_255(truth_lightness(rgb)), border)
        for key, out in (("restored", restore(scan)), ("bicubic", upscale(scan, scale))):
            out = shave(lightness_255(out), border)
            got[key]["psnr"].append(metrics.psnr(out, truth).numpy())
            got[key]["ssim"].append(metrics.ssim(out, truth).numpy())
    return {k: {m: round(float(np.mean(np.concatenate(v))), 4) for m, v in d.items()}
            for k, d in got.items()}
