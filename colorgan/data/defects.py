"""Defects of an old print, drawn on its lightness with the mask of what they cover.

Each drawing takes lightness [H, W, 1] float32 in [0, 1] and a stateless seed ([2] ints),
and returns (lightness, mask [H, W, 1] float32 in {0, 1}): the mask is 1 where the defect
replaced or covered the photo, the target of the restorer's defect finder. The same
(seed, photo) gives the same defects.

The kinds follow what scans of real prints show (Bringing Old Photos Back to Life's scratch
masks, the dust and hairs of flatbed scans):
  specks    dust on the negative (white) and dirt on the print (black), 0.5-3 px, some
            clumps of two or three;
  hairs     curved fibres and hairs (quadratic Bezier curves, 0.3-0.8 px half-width),
            dark on the print or white on the negative;
  scratches straight light lines, a tenth to the whole of the longer side;
  creases   a fold across the print: a bright cracked core and a dark shoulder;
  stains    smooth blotches that darken or yellow (lighten) part of the print, half
            transparent: their own mask is their footprint, and draw() leaves them out of
            the defects' mask (they tint, they do not hide);
  tears     a torn corner: paper (0.85-1) with a ragged edge where the photo was.
"""

from __future__ import annotations

import math

import tensorflow as tf

from colorgan import config

STAIN_LEVEL = (0.8, 0.9)  # the smooth field's cut: ~3-15 % of a print stained (measured)
BEZIER_SEGMENTS = 8  # a hair's curve as this many straight pieces: < 0.2 px off at 64 px


def _pixel_grid(height, width) -> tf.Tensor:
    """[H, W, 2] float32: each pixel's (y, x)."""
    y, x = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32),
                       indexing="ij")
    return tf.stack([y, x], axis=-1)


def speck_mask(height, width, centers: tf.Tensor, radii: tf.Tensor) -> tf.Tensor:
    """[H, W, 1] bool: pixels whose centre lies within radii [N] of centers [N, 2] (y, x)."""
    p = _pixel_grid(height, width)[:, :, None, :]  # [H, W, 1, 2]
    d2 = tf.reduce_sum(tf.square(p - centers), -1)
    return tf.reduce_any(d2 <= tf.square(radii), axis=-1)[..., None]


def line_mask(height, width, start: tf.Tensor, end: tf.Tensor,
              half_width: tf.Tensor) -> tf.Tensor:
    """[H, W, 1] bool: pixels within half_width [N] of any segment start[i] -> end[i]
    ([N, 2], (y, x))."""
    p = _pixel_grid(height, width)[:, :, None, :]  # [H, W, 1, 2]
    d = end - start  # [N, 2]
    t = tf.reduce_sum((p - start) * d, -1) / tf.maximum(tf.reduce_sum(d * d, -1), 1e-6)
    nearest = start + tf.clip_by_value(t, 0.0, 1.0)[..., None] * d
    dist2 = tf.reduce_sum(tf.square(p - nearest), -1)
    return tf.reduce_any(dist2 <= tf.square(half_width), axis=-1)[..., None]


def bezier_segments(p0: tf.Tensor, p1: tf.Tensor, p2: tf.Tensor,
                    pieces: int = BEZIER_SEGMENTS) -> tuple[tf.Tensor, tf.Tensor]:
    """Quadratic Bezier curves with end points p0, p2 and control point p1 ([N, 2] each)
    -> their polylines as segments (start, end), each [N * pieces, 2]."""
    t = tf.linspace(0.0, 1.0, pieces + 1)[None, :, None]  # [1, pieces + 1, 1]
    points = ((1 - t) ** 2 * p0[:, None] + 2 * (1 - t) * t * p1[:, None]
              + t ** 2 * p2[:, None])  # [N, pieces + 1, 2]
    return (tf.reshape(points[:, :-1], [-1, 2]), tf.reshape(points[:, 1:], [-1, 2]))


def _split(seed: tf.Tensor, n: int) -> tf.Tensor:
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=n)


def _paint(gray: tf.Tensor, mask: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    return tf.where(mask, values, gray)


def specks(gray: tf.Tensor, seed: tf.Tensor, count: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`count` specks of radius 0.5-3 px (most near 0.5: r = 0.5 + 2.5 u^2), 70 % white
    (0.9-1: dust on the negative) and the rest black (0-0.15: dirt on the print); a third of
    them have a neighbour of their colour up to 1.5 radii away along each axis (a clump)."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    s = _split(seed, 5)
    size = tf.cast(tf.stack([h, w]), tf.float32)
    centers = tf.random.stateless_uniform([count, 2], s[0]) * size
    radii = 0.5 + 2.5 * tf.square(tf.random.stateless_uniform([count], s[1]))
    white = tf.random.stateless_uniform([count], s[2]) < 0.7
    clumps = count // 3
    offset = tf.random.stateless_uniform([clumps, 2], s[3], -1.5, 1.5) * radii[:clumps, None]
    centers = tf.concat([centers, centers[:clumps] + offset], 0)
    radii = tf.concat([radii, radii[:clumps]], 0)
    white = tf.concat([white, white[:clumps]], 0)
    level = tf.random.stateless_uniform([2], s[4])
    out, mask = gray, tf.zeros_like(gray, tf.bool)
    for value, pick in ((0.9 + 0.1 * level[0], white), (0.15 * level[1], ~white)):
        m = speck_mask(h, w, tf.boolean_mask(centers, pick), tf.boolean_mask(radii, pick))
        out, mask = _paint(out, m, value), mask | m
    return out, tf.cast(mask, tf.float32)


def hairs(gray: tf.Tensor, seed: tf.Tensor, count: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`count` curved hairs or fibres: quadratic Bezier curves 5-40 % of the longer side
    long, bowed by up to 15 % of their length (the control point up to 30 % off the chord), 0.3-0.8 px half-width; 60 % dark (0.03-0.2:
    on the print), the rest white (0.85-1: on the negative)."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    s = _split(seed, 6)
    size = tf.cast(tf.stack([h, w]), tf.float32)
    longer = tf.reduce_max(size)
    p0 = tf.random.stateless_uniform([count, 2], s[0]) * size
    angle = tf.random.stateless_uniform([count], s[1], 0.0, 2 * math.pi)
    u = tf.random.stateless_uniform([count, 3], s[2])
    length = (0.05 + 0.35 * u[:, 0]) * longer
    along = tf.stack([tf.sin(angle), tf.cos(angle)], -1)
    normal = tf.stack([along[:, 1], -along[:, 0]], -1)
    p2 = p0 + length[:, None] * along
    p1 = (p0 + p2) / 2 + ((u[:, 1] - 0.5) * 0.6 * length)[:, None] * normal
    half_width = tf.repeat(0.3 + 0.5 * u[:, 2], BEZIER_SEGMENTS)
    start, end = bezier_segments(p0, p1, p2)
    dark = tf.repeat(tf.random.stateless_uniform([count], s[3]) < 0.6, BEZIER_SEGMENTS)
    level = tf.random.stateless_uniform([2], s[4])
    out, mask = gray, tf.zeros_like(gray, tf.bool)
    for value, pick in ((0.03 + 0.17 * level[0], dark), (0.85 + 0.15 * level[1], ~dark)):
        m = line_mask(h, w, tf.boolean_mask(start, pick), tf.boolean_mask(end, pick),
                      tf.boolean_mask(half_width, pick))
        out, mask = _paint(out, m, value), mask | m
    return out, tf.cast(mask, tf.float32)


def scratches(gray: tf.Tensor, seed: tf.Tensor, count: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`count` thin light scratches: straight, half-width 0.4-1 px, a tenth to the whole of
    the longer side; a scratch lets light through, so it is raised to >= 0.85."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    s = _split(seed, 3)
    size = tf.cast(tf.stack([h, w]), tf.float32)
    start = tf.random.stateless_uniform([count, 2], s[0]) * size
    angle = tf.random.stateless_uniform([count], s[1], 0.0, 2 * math.pi)
    u = tf.random.stateless_uniform([count, 2], s[2])
    length = (0.1 + 0.9 * u[:, 0]) * tf.reduce_max(size)
    end = start + length[:, None] * tf.stack([tf.sin(angle), tf.cos(angle)], -1)
    m = line_mask(h, w, start, end, 0.4 + 0.6 * u[:, 1])
    return tf.where(m, tf.maximum(gray, 0.85), gray), tf.cast(m, tf.float32)


def crease(gray: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A fold across the print, edge to edge and slightly bent: a cracked core of
    half-width 0.5-1.5 px raised to >= 0.9, and beside it a shoulder 1 px wide darkened
    to 60-80 % (the fold's shadow)."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    s = _split(seed, 3)
    size = tf.cast(tf.stack([h, w]), tf.float32)
    u = tf.random.stateless_uniform([6], s[0])
    across = u[0] < 0.5  # top to bottom, else left to right
    p0 = tf.where(across, tf.stack([-2.0, u[1] * size[1]]), tf.stack([u[1] * size[0], -2.0]))
    p2 = tf.where(across, tf.stack([size[0] + 2.0, u[2] * size[1]]),
                  tf.stack([u[2] * size[0], size[1] + 2.0]))
    d = p2 - p0
    normal = tf.stack([d[1], -d[0]]) / tf.maximum(tf.norm(d), 1.0)
    p1 = (p0 + p2) / 2 + (u[3] - 0.5) * 0.1 * tf.norm(d) * normal
    core_w = 0.5 + u[4]
    start, end = bezier_segments(p0[None], p1[None], p2[None])
    core = line_mask(h, w, start, end, tf.fill([BEZIER_SEGMENTS], core_w))
    shift = (core_w + 1.0) * normal
    shoulder = line_mask(h, w, start + shift, end + shift, tf.fill([BEZIER_SEGMENTS], 0.5))
    shoulder &= ~core
    out = tf.where(core, tf.maximum(gray, 0.9), gray)
    out = tf.where(shoulder, out * (0.6 + 0.2 * u[5]), out)
    return out, tf.cast(core | shoulder, tf.float32)


def _smooth_field(h, w, cells: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """[H, W] float32 in about [0, 1]: uniform noise on a grid of `cells` cells along the
    longer side, bicubically enlarged (blobs of ~1/cells of the photo). The grid has a cell
    more on each side, cropped off, so the edges are as smooth as the middle."""
    cell = tf.cast(tf.math.ceil(tf.cast(tf.maximum(h, w), tf.float32) / cells), tf.int32)
    gh, gw = h // cell + 3, w // cell + 3
    grid = tf.random.stateless_uniform(tf.stack([gh, gw, 1]), seed)
    big = tf.image.resize(grid, tf.stack([gh, gw]) * cell, method="bicubic")
    return big[cell:cell + h, cell:cell + w, 0]


def stains(gray: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Water stains and foxing: smooth blobs (4-10 across the longer side) over a few to
    15 % of the print that pull it toward a tone (0.3-0.95: darker, or yellowed paper) by
    30-70 %, with soft edges. The mask is the blobs' whole footprint, soft edge included."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    s = _split(seed, 2)
    u = tf.random.stateless_uniform([4], s[0])
    field = _smooth_field(h, w, 4.0 + 6.0 * u[0], s[1])
    threshold = STAIN_LEVEL[0] + (STAIN_LEVEL[1] - STAIN_LEVEL[0]) * u[1]
    alpha = tf.clip_by_value((field - threshold) / 0.1, 0.0, 1.0)[..., None]
    tone = 0.3 + 0.65 * u[3]
    out = gray + (tone - gray) * alpha * (0.3 + 0.4 * u[2])
    return out, tf.cast(alpha > 0, tf.float32)


def tear(gray: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A torn-off corner: one corner's triangle, 8-25 % of each side, with a ragged edge
    (the torn fibres), shows the paper (0.85-1) instead of the photo."""
    h, w = tf.shape(gray)[0], tf.shape(gray)[1]
    s = _split(seed, 2)
    u = tf.random.stateless_uniform([4], s[0])
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    grid = _pixel_grid(h, w)
    corner = tf.cast(u[0] * 4, tf.int32)  # 0 top left, 1 top right, 2 bottom left, 3 bottom right
    y = tf.where(corner >= 2, hf - 1 - grid[..., 0], grid[..., 0])
    x = tf.where(corner % 2 == 1, wf - 1 - grid[..., 1], grid[..., 1])
    a, b = (0.08 + 0.17 * u[1]) * hf, (0.08 + 0.17 * u[2]) * wf
    ragged = (_smooth_field(h, w, 24.0, s[1]) - 0.5) * 0.15
    inside = y / a + x / b < 1.0 + ragged
    paper = 0.85 + 0.15 * u[3]
    return tf.where(inside[..., None], paper, gray), tf.cast(inside[..., None], tf.float32)


def draw(gray: tf.Tensor, seed: tf.Tensor,
         cfg: config.DegradeConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """A print's defects, each kind with its probability in `cfg`, in the order they reach
    a print (stains and folds in the paper, then scratches, hairs and dust on top, a torn
    corner over everything) -> (lightness, mask [H, W, 1] of the pixels a defect replaced).

    Stains stay out of the mask: they tint the photo rather than hide it (a weak one is
    invisible), so the restorer undoes them as it undoes a fade, and a mask of them would
    teach the defect finder to see what is not there."""
    s = _split(seed, 7)
    coins = tf.random.stateless_uniform([6], s[6])
    none = tf.zeros_like(gray)
    steps = ((cfg.stains, stains, False), (cfg.crease, crease, True),
             (cfg.dust, lambda g, k: scratches(g, k, cfg.scratches), True),
             (cfg.hairs, lambda g, k: hairs(g, k, cfg.hair_count), True),
             (cfg.dust, lambda g, k: specks(g, k, cfg.dust_specks), True),
             (cfg.tear, tear, True))
    mask = none
    for i, (p, fn, masked) in enumerate(steps):
        if p <= 0:  # Python: a graph without the step
            continue
        gray, m = tf.cond(coins[i] < p, lambda fn=fn, i=i, g=gray: fn(g, s[i]),
                          lambda g=gray: (g, none))
        if masked:
            mask = tf.maximum(mask, m)
    return gray, mask
