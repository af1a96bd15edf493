"""User colour hints as generator input (Zhang et al., SIGGRAPH 2017, "Real-Time
User-Guided Image Colorization with Learned Deep Priors").

A hint model's generator takes [L, hint a, hint b, mask] instead of L: the hint ab (model
range, as the target's) where a hint is and 0 elsewhere, the mask 1 there and 0 elsewhere.
No hints at all is automatic colorization. Training reveals random patches of the true
colour (`simulate`), as Zhang et al.'s code does (colorization-pytorch,
`util.add_color_patches_rand_gt`): a geometric number of patches (stop probability 1/8),
sides 1-9 px drawn uniformly, centres normal around the image centre (sd a quarter of
the side), each patch filled with its mean true colour; a share of each batch gets none,
so the model stays an automatic colorizer. At inference `from_points` paints the user's
points.

Shapes: L [B, H, W, 1], ab [B, H, W, 2], hints [B, H, W, 3] (ab then mask), all float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from colorgan.errors import UserError

CHANNELS = 3  # hint a, hint b, mask
MAX_PATCHES = 32  # the geometric count is cut here (P(n > 32) = 0.875^33 ~ 1e-2)
SIDES = (1, 9)  # patch sides, inclusive
STOP = 0.125  # Zhang et al.'s p: stop adding patches with this probability
MAX_REVEAL = 64  # evaluate.py --hints=N: at most this many
MAX_POINTS = 256  # user hints per photo: painting costs points x pixels of memory


def none(L: tf.Tensor) -> tf.Tensor:
    """No hints for L [B, H, W, 1]: zeros [B, H, W, 3]."""
    shape = tf.shape(L)
    return tf.zeros(tf.concat([shape[:3], [CHANNELS]], 0), L.dtype)


def with_hints(L: tf.Tensor, hints: tf.Tensor | None) -> tf.Tensor:
    """The hint generator's input: [L, hints] [B, H, W, 4] (no hints: zeros)."""
    return tf.concat([L, none(L) if hints is None else tf.cast(hints, L.dtype)], -1)


def _box_means(ab: tf.Tensor, top: tf.Tensor, left: tf.Tensor, side: tf.Tensor) -> tf.Tensor:
    """Mean of ab over each box: ab [B, H, W, 2], top/left/side int32 [B, K] -> [B, K, 2].

    From the summed-area table, so the cost does not grow with the box.
    """
    sat = tf.pad(tf.cumsum(tf.cumsum(ab, axis=1), axis=2), [[0, 0], [1, 0], [1, 0], [0, 0]])
    b = tf.broadcast_to(tf.range(tf.shape(ab)[0])[:, None], tf.shape(top))

    def at(y, x):
        return tf.gather_nd(sat, tf.stack([b, y, x], -1))  # [B, K, 2]

    bottom, right = top + side, left + side
    total = at(bottom, right) - at(top, right) - at(bottom, left) + at(top, left)
    return total / tf.cast(side * side, ab.dtype)[..., None]


def paint(shape: tf.Tensor, top: tf.Tensor, left: tf.Tensor, side: tf.Tensor,
          values: tf.Tensor, active: tf.Tensor) -> tf.Tensor:
    """Boxes -> hints [B, H, W, 3]. top/left/side int32 [B, K], values [B, K, 2], active bool
    [B, K]. Where active boxes overlap, the hint is their mean."""
    h, w = shape[1], shape[2]
    ys, xs = tf.range(h)[None, None, :], tf.range(w)[None, None, :]
    in_y = (ys >= top[..., None]) & (ys < (top + side)[..., None])  # [B, K, H]
    in_x = (xs >= left[..., None]) & (xs < (left + side)[..., None])  # [B, K, W]
    box = tf.cast(in_y[..., :, None] & in_x[..., None, :] & active[..., None, None],
                  values.dtype)  # [B, K, H, W]
    count = tf.reduce_sum(box, 1)  # [B, H, W]
    total = tf.einsum("bkhw,bkc->bhwc", box, values)
    ab = tf.math.divide_no_nan(total, count[..., None])
    return tf.concat([ab, tf.cast(count > 0, values.dtype)[..., None]], -1)


def simulate(ab: tf.Tensor, seed: tf.Tensor, *, none_share: float = 0.25,
             count: tf.Tensor | int | None = None) -> tf.Tensor:
    """Random hints from the true colour: ab [B, H, W, 2] -> hints [B, H, W, 3].

    seed: int32 [2] for the stateless random ops (the same seed, the same hints: a
    resumed run draws what the uninterrupted one drew). `none_share` of the images get
    no hints on top of the geometric draw's own zeros (1/8). `count` (0..MAX_REVEAL)
    fixes the number of patches per image instead (evaluate.py --hints=N).
    """
    ab = tf.convert_to_tensor(ab, tf.float32)
    shape = tf.shape(ab)
    b = shape[0]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), 5)
    if count is None:
        k = MAX_PATCHES
        # Geometric on {0, 1, ...} with P(n = 0) = STOP: n = floor(log u / log(1 - STOP)).
        u = tf.random.stateless_uniform([b], seeds[0], 1e-7, 1.0)
        n = tf.cast(tf.floor(tf.math.log(u) / tf.math.log(1.0 - STOP)), tf.int32)
        keep = tf.random.stateless_uniform([b], seeds[1]) >= none_share
        n = tf.where(keep, tf.minimum(n, k), 0)
    else:
        k = MAX_REVEAL
        n = tf.fill([b], tf.minimum(tf.cast(count, tf.int32), k))
    active = tf.range(k)[None, :] < n[:, None]  # [B, K]
    side = tf.random.stateless_uniform([b, k], seeds[2], SIDES[0], SIDES[1] + 1, tf.int32)
    # Sides no larger than the image (tests use 8 px images).
    side = tf.minimum(side, tf.minimum(shape[1], shape[2]))

    def centre(size, key):  # Zhang et al.: normal around the middle, sd a quarter
        room = tf.cast(size - side + 1, tf.float32)
        z = tf.random.stateless_normal([b, k], key)
        return tf.cast(tf.clip_by_value(room / 2 + z * room / 4, 0.0, room - 1), tf.int32)

    top, left = centre(shape[1], seeds[3]), centre(shape[2], seeds[4])
    return paint(shape, top, left, side, _box_means(ab, top, left, side), active)


def from_points(shape: tf.Tensor, x: tf.Tensor, y: tf.Tensor, ab: tf.Tensor,
                side: int | tf.Tensor = 3) -> tf.Tensor:
    """User points -> hints [1, H, W, 3] for one image of shape [1, H, W, ...].

    x, y float [N] in [0, 1] of the image's width and height; ab [N, 2] in the model
    range. Each point becomes a side x side patch centred on it (clipped to the image).
    """
    h, w = shape[1], shape[2]
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    s = tf.minimum(tf.cast(side, tf.int32), tf.minimum(h, w))

    def corner(frac, size):
        centre = tf.cast(tf.floor(tf.clip_by_value(frac, 0.0, 1.0) * tf.cast(size, tf.float32)),
                         tf.int32)
        return tf.clip_by_value(tf.minimum(centre, size - 1) - s // 2, 0, size - s)

    top, left = corner(y, h)[None], corner(x, w)[None]
    sides = tf.fill(tf.shape(top), s)
    active = tf.ones(tf.shape(top), tf.bool)
    return paint(shape, top, left, sides, tf.cast(ab, tf.float32)[None], active)


def parse_color(text: str) -> tuple[float, float, float]:
    """"#e02020" or "#e22" -> sRGB (r, g, b) in [0, 1]. ValueError otherwise."""
    digits = str(text).strip().removeprefix("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"color {text!r} is not #rrggbb")
    return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))


def read_points(path) -> list[tuple[float, float, tuple[float, float, float]]]:
    """A hints file -> [(x, y, (r, g, b))]. The file is a JSON list of
    {"x": 0.5, "y": 0.5, "color": "#e02020"}, x and y in [0, 1] of the image's width and
    height (from its top left). UserError naming the file and the item otherwise."""

    try:
        items = json.loads(Path(path).read_text())
    except OSError as e:
        raise UserError(f"hints: {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise UserError(f"hints: {path} is not JSON ({e})") from None
    return parse_points(items, str(path))


def parse_points(items, source: str) -> list[tuple[float, float, tuple[float, float, float]]]:
    """[{"x", "y", "color"}, ...] (read_points' format, from a file or a request) ->
    [(x, y, (r, g, b))]; UserError naming `source` and the item otherwise."""
    if not isinstance(items, list):
        raise UserError(f"hints: {source} must hold a list of {{\"x\", \"y\", \"color\"}}")
    if len(items) > MAX_POINTS:
        raise UserError(f"hints: {source} holds {len(items)} hints; at most {MAX_POINTS}")
    points = []
    for i, item in enumerate(items):
        try:
            x, y = float(item["x"]), float(item["y"])
            if not (0 <= x <= 1 and 0 <= y <= 1):
                raise ValueError("x and y must be in [0, 1]")
            points.append((x, y, parse_color(item["color"])))
        except (KeyError, TypeError, ValueError) as e:
            what = f"lacks {e}" if isinstance(e, KeyError) else str(e)
            raise UserError(f"hints: {source}: item {i}: {what}") from None
    return points
