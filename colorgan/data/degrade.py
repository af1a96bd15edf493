"""Old-photo degradations of a clean photo's lightness, in TensorFlow (inside tf.data).

Each operation takes lightness images [H, W, 1] float32 in [0, 1] (Lab L / 100) and, where
it draws noise, an explicit stateless seed ([2] int32/int64): the same (seed, photo) gives
the same scan, so a run that derives the seed from (seed, step, replica) resumes exactly.
`old_photo` chains them as config.DegradeConfig says, after Real-ESRGAN's first-order
pipeline (blur, resize, noise, JPEG) with the old-photo steps added (toned prints, fade,
film grain, a print's defects (data/defects.py), a second JPEG).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from colorgan import color
from colorgan.data import defects, prints
from colorgan.config import DegradeConfig

# Toned prints: the print's RGB from the photo's RGB (rows: R, G, B). Sepia is the common
# "sepia filter" matrix; cyan is a cyanotype's Prussian-blue ramp on the photo's gray.
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]],
                 np.float32)
CYAN = np.array([[0.0, 0.15, 0.05], [0.15, 0.45, 0.1], [0.2, 0.55, 0.25]], np.float32)
RESIZE_METHODS = ("area", "bilinear", "bicubic")
KERNEL_SIZE = 21  # covers 3 sigma of the widest blur the config allows by default (2 px x 3)
# A defect pixel of the scan moves its lightness by at least this much (8 L*), about the
# strongest grain's sigma: fainter, it is not in the defects' mask.
VISIBLE = 0.08
SECOND_KERNEL = 11  # the second order's blur (sigma <= 1.2 px) and sinc kernels


def gaussian_kernel(size: int, sigma_x: tf.Tensor, sigma_y: tf.Tensor,
                    theta: tf.Tensor) -> tf.Tensor:
    """[size, size] float32 summing to 1: a bivariate Gaussian with standard deviations
    sigma_x, sigma_y (pixels) along axes rotated by theta (radians) from x, y."""
    sigma_x, sigma_y, theta = (tf.cast(v, tf.float32) for v in (sigma_x, sigma_y, theta))
    r = (size - 1) / 2
    y, x = tf.meshgrid(tf.linspace(-r, r, size), tf.linspace(-r, r, size), indexing="ij")
    c, s = tf.cos(theta), tf.sin(theta)
    u, v = c * x + s * y, -s * x + c * y  # coordinates along the rotated axes
    k = tf.exp(-0.5 * (tf.square(u / sigma_x) + tf.square(v / sigma_y)))
    return k / tf.reduce_sum(k)


def sinc_kernel(size: int, cutoff: tf.Tensor) -> tf.Tensor:
    """[size, size] float32 summing to 1: the ideal circular low-pass filter of angular
    cutoff `cutoff` (radians per pixel, pi = Nyquist), cutoff * J1(cutoff r) / (2 pi r)
    truncated to the square; its centre is the limit cutoff^2 / (4 pi). Convolved with a
    photo it rings around edges, as a sharpened or band-limited scan does (Real-ESRGAN)."""
    cutoff = tf.cast(cutoff, tf.float32)
    r0 = (size - 1) / 2
    y, x = tf.meshgrid(tf.linspace(-r0, r0, size), tf.linspace(-r0, r0, size), indexing="ij")
    r = tf.sqrt(x * x + y * y)
    safe = tf.where(r > 0, r, 1.0)
    k = tf.where(r > 0, cutoff * tf.math.special.bessel_j1(cutoff * safe) / (2 * math.pi * safe),
                 cutoff * cutoff / (4 * math.pi))
    return k / tf.reduce_sum(k)


def blur(gray: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """[H, W, 1] convolved with kernel [k, k] (odd k), edges reflected; same size."""
    k = kernel.shape[0]
    pad = k // 2
    x = tf.pad(gray[None], [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    return tf.nn.conv2d(x, kernel[:, :, None, None], 1, "VALID")[0]


def downscale(gray: tf.Tensor, scale: int, method: str) -> tf.Tensor:
    """[H, W, 1] -> [H // scale, W // scale, 1] (antialiased: a scanner integrates light)."""
    if scale == 1:
        return gray
    h, w = tf.shape(gray)[0] // scale, tf.shape(gray)[1] // scale
    return tf.image.resize(gray, [h, w], method=method, antialias=True)


def fade(gray: tf.Tensor, black: tf.Tensor, white: tf.Tensor, gamma: tf.Tensor) -> tf.Tensor:
    """A faded print: black + (white - black) * gray ** gamma."""
    return black + (white - black) * tf.pow(tf.maximum(gray, 0.0), gamma)


def grain(gray: tf.Tensor, sigma: tf.Tensor, seed: tf.Tensor, *,
          poisson: bool | tf.Tensor = False, clump: float = 0.0) -> tf.Tensor:
    """Film grain of standard deviation `sigma` added to [H, W, 1].

    Gaussian: gray + sigma * n. Poisson: counts of mean gray * peak, over peak, with
    peak = 1 / sigma^2 (so sigma is the noise at gray = 1; darker is less noisy). clump > 0
    blurs the white noise with a Gaussian of that sigma (pixels) and rescales it to unit
    variance (divided by the kernel's L2 norm), so grains are larger but as strong.
    """
    sigma = tf.cast(sigma, tf.float32)
    noise = tf.random.stateless_normal(tf.shape(gray), seed)
    if clump > 0:
        kernel = gaussian_kernel(2 * math.ceil(3 * clump) + 1, clump, clump, 0.0)
        noise = blur(noise, kernel) / tf.norm(kernel)
    # A Poisson count of mean lam = gray * peak is lam + sqrt(lam) * n for large lam, so
    # over peak it is gray + sigma * sqrt(gray) * n. The exact draw (stateless_poisson)
    # could not be clumped; this one is exact in mean and variance, which the look needs.
    strength = tf.where(poisson, tf.sqrt(tf.maximum(gray, 0.0)), 1.0)
    return gray + sigma * strength * noise


def jpeg(gray: tf.Tensor, quality: tf.Tensor) -> tf.Tensor:
    """[H, W, 1] in [0, 1] through a JPEG encode and decode at `quality` (1-100)."""
    return tf.image.adjust_jpeg_quality(tf.clip_by_value(gray, 0.0, 1.0), quality)


def toned_lightness(rgb: tf.Tensor, matrix: np.ndarray) -> tf.Tensor:
    """[H, W, 3] sRGB -> the lightness [H, W, 1] in [0, 1] of its print toned by `matrix`."""
    toned = tf.clip_by_value(tf.einsum("hwc,dc->hwd", rgb, matrix), 0.0, 1.0)
    return color.lightness(toned) / 100.0


def old_photo(rgb: tf.Tensor, cfg: DegradeConfig, seed: tf.Tensor, scale: int = 1) -> tf.Tensor:
    """A clean photo [H, W, 3] sRGB in [0, 1] -> its old-photo scan's lightness
    [H // scale, W // scale, 1] in [0, 1], every random choice drawn from `seed`."""
    return old_photo_and_defects(rgb, cfg, seed, scale)[0]


def old_photo_and_defects(rgb: tf.Tensor, cfg: DegradeConfig, seed: tf.Tensor,
                          scale: int = 1) -> tuple[tf.Tensor, tf.Tensor]:
    """old_photo, and the mask of its print's defects at the scan's size
    [H // scale, W // scale, 1] in {0, 1}: a scan pixel is a defect's when the defects
    (data/defects.py; stains aside) move it by at least VISIBLE through the scan's blur and
    downscale, before fade, grain and JPEG. The change is blurred as an absolute value, so
    where a bright and a dark defect touch (a fold's core and shoulder) the mask is a little
    wider than what the scan shows; the second order's blur is not counted."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=8)

    def uniform(i, low, high, shape=()):
        return tf.random.stateless_uniform(shape, seeds[i], low, high)

    coins = uniform(0, 0.0, 1.0, [8])  # one coin per yes/no choice
    gray = color.lightness(rgb) / 100.0
    if cfg.clean > 0:  # a clean scan: downscaled and stored in 8 bits, nothing else
        return tf.cond(coins[7] < cfg.clean,
                       lambda: _clean_scan(gray, scale),
                       lambda: _old_print(rgb, gray, cfg, seeds, coins, scale))
    return _old_print(rgb, gray, cfg, seeds, coins, scale)


def _clean_scan(gray, scale: int) -> tuple[tf.Tensor, tf.Tensor]:
    scan = tf.round(tf.clip_by_value(downscale(gray, scale, "bicubic"), 0.0, 1.0) * 255.0) / 255.0
    return scan, tf.zeros_like(scan)


def _old_print(rgb, gray, cfg: DegradeConfig, seeds, coins, scale: int):
    """old_photo_and_defects' degradation chain, from the drawn seeds and coins."""

    def uniform(i, low, high, shape=()):
        return tf.random.stateless_uniform(shape, seeds[i], low, high)

    # tf.cond, not tf.where: a photo pays only for the steps it gets (this runs per element).
    gray = tf.cond(coins[0] < cfg.tone,
                   lambda: tf.cond(coins[1] < 0.5, lambda: toned_lightness(rgb, CYAN),
                                   lambda: toned_lightness(rgb, SEPIA)),
                   lambda: gray)
    # Draws of the steps added in the second round, from their own seeds: the first round's
    # draws stay what they were.
    more = tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(seeds[0], 2), num=8)
    extra = tf.random.stateless_uniform([16], more[0])
    gray = _uneven(gray, cfg, extra)
    if cfg.halftone > 0:  # a newspaper's or magazine's print of the photo
        gray = tf.cond(extra[6] < cfg.halftone,
                       lambda: prints.halftone(gray, 3.0 + 3.0 * extra[7],
                                               math.radians(30.0) + math.radians(30.0) * extra[8]),
                       lambda: gray)
    # The print's defects, before the scan's optics soften them.
    clean_print = gray
    gray, drawn = defects.draw(gray, tf.random.experimental.stateless_fold_in(seeds[0], 1), cfg)
    change = tf.abs(gray - clean_print) * drawn

    sig = uniform(2, *cfg.blur_sigma, [2])
    sigma_y = tf.where(coins[2] < cfg.blur_anisotropic, sig[1], sig[0])
    theta = uniform(1, 0.0, math.pi)
    kernel = gaussian_kernel(KERNEL_SIZE, sig[0], sigma_y, theta)
    gray = blur(gray, kernel)
    # The mask is what the scan shows of the defects: how far they move the print, through
    # the same blur and an area downscale, at least VISIBLE. A white hair on a white sky, or
    # a thin one under a strong blur, is no defect to find (nor one a finder can learn).
    mask = tf.cast(downscale(blur(change, kernel), scale, "area") >= VISIBLE, tf.float32)

    method = tf.cast(uniform(3, 0.0, len(RESIZE_METHODS)), tf.int32)
    gray = tf.switch_case(method, [lambda m=m: downscale(gray, scale, m) for m in RESIZE_METHODS])

    def lerp(t, r):
        return r[0] + t * (r[1] - r[0])

    f = uniform(4, 0.0, 1.0, [3])
    gray = fade(gray, lerp(f[0], cfg.fade_black), lerp(f[1], cfg.fade_white),
                lerp(f[2], cfg.fade_gamma))

    sigma = uniform(5, *cfg.grain_sigma)
    poisson = coins[3] < cfg.grain_poisson
    gray = tf.cond(coins[4] < cfg.grain_clumped,
                   lambda: grain(gray, sigma, seeds[6], poisson=poisson, clump=1.0),
                   lambda: grain(gray, sigma, seeds[6], poisson=poisson))

    q = tf.cast(tf.round(uniform(7, *(float(v) for v in cfg.jpeg_quality), [2])), tf.int32)
    gray = jpeg(gray, q[0])
    gray = tf.cond(coins[5] < cfg.jpeg_twice, lambda: jpeg(gray, q[1]), lambda: gray)
    if cfg.second_order > 0:
        gray = tf.cond(extra[9] < cfg.second_order,
                       lambda: _second_order(gray, cfg, more, extra), lambda: gray)
    return tf.ensure_shape(gray, [None, None, 1]), tf.ensure_shape(mask, [None, None, 1])


def _uneven(gray, cfg: DegradeConfig, extra) -> tf.Tensor:
    """Uneven exposure and fading: a vignette (darker, or lighter, edges) and a light leak
    from one edge, each with its probability."""
    if cfg.vignette > 0:
        gray = tf.cond(extra[0] < cfg.vignette,
                       lambda: prints.vignette(gray, -0.2 + 0.7 * extra[1],
                                               0.3 + 0.4 * tf.stack([extra[2], extra[3]])),
                       lambda: gray)
    if cfg.light_leak > 0:
        gray = tf.cond(extra[4] < cfg.light_leak,
                       lambda: prints.light_leak(gray, 0.2 + 0.5 * extra[5],
                                                 tf.cast(extra[10] * 4, tf.int32) % 4,
                                                 0.05 + 0.25 * extra[11]),
                       lambda: gray)
    return gray


def _second_order(gray, cfg: DegradeConfig, more, extra) -> tf.Tensor:
    """Real-ESRGAN's second order at the scan's size: the scan scanned or saved again. A
    second, lighter blur; a resize down by 1-2x and back (bilinear, bicubic or area); fresh
    grain; then JPEG and a ringing sinc filter in either order."""
    sigma = 0.2 + 1.0 * extra[12]
    gray = blur(gray, gaussian_kernel(SECOND_KERNEL, sigma, sigma, 0.0))
    size = tf.shape(gray)[:2]
    small = tf.maximum(tf.cast(tf.cast(size, tf.float32) * (0.5 + 0.5 * extra[13]), tf.int32), 1)
    method = tf.cast(extra[14] * len(RESIZE_METHODS), tf.int32) % len(RESIZE_METHODS)
    gray = tf.switch_case(method, [
        lambda m=m: tf.image.resize(tf.image.resize(gray, small, method=m, antialias=True),
                                    size, method="bilinear") for m in RESIZE_METHODS])
    gray = grain(gray, 0.03 * extra[15], more[1])
    cutoff = math.pi / 3 + (math.pi - math.pi / 3) * tf.random.stateless_uniform([], more[2])
    quality = tf.cast(tf.round(tf.random.stateless_uniform(
        [], more[3], *(float(v) for v in cfg.jpeg_quality))), tf.int32)
    ring = sinc_kernel(SECOND_KERNEL, cutoff)
    sinc_first = tf.random.stateless_uniform([], more[4]) < 0.5
    gray = tf.cond(sinc_first, lambda: jpeg(blur(gray, ring), quality),
                   lambda: blur(jpeg(gray, quality), ring))
    # The sinc rings past black and white (to -0.21 / 1.21 on a step at cutoff pi/3): a scan
    # file holds 8 bits in [0, 1].
    return tf.round(tf.clip_by_value(gray, 0.0, 1.0) * 255.0) / 255.0
