"""Restoring a large photo in tiles, with no seams and bounded memory, inside the graph.

The photo is cut into windows of `tile` x `tile` scan pixels that overlap by at least
2 x `margin`; each window is restored alone and only its middle is kept, up to half-way
into each overlap (never closer than `margin` to a window's cut edge). A restorer's output
pixel depends only on the scan pixels within its receptive field (models/restorer.py:
RECEPTIVE_RADIUS), so with `margin` at least that radius every kept pixel equals the
untiled result; windows never extend past the photo, so its true borders are zero-padded
as in the untiled run. The levels (models/restorer.levels) are measured once on the whole
photo and handed to every window.

Windows run one after another in a tf.while_loop: peak memory is one window's activations
plus the output, whatever the photo's size. A restorer with a defect finder finds the
defects first, in tiles of its own (`find_tiled`: wider, since the finder sees ~40 px
around a pixel, and on its 8-pixel grid, since it halves the resolution three times),
then fills them on the whole photo, and restores in tiles.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from colorgan.models import defect_finder, fill, restorer as restorer_lib


def cuts(length: tf.Tensor, tile: int, margin: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Along one axis of `length` pixels: (window starts [n], window size, kept-region
    bounds [n + 1]); window i keeps [bounds[i], bounds[i + 1])."""
    size = tf.minimum(length, tile)
    step = tile - 2 * margin
    n = tf.maximum(1, (length - size + step - 1) // step + 1)
    starts = tf.minimum(tf.range(n) * step, length - size)
    inner = (starts[:-1] + size + starts[1:]) // 2  # half-way into each overlap
    bounds = tf.concat([[0], inner, [length]], axis=0)
    return starts, size, bounds


def restore_tiled(restore: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], scan: tf.Tensor,
                  levels: tf.Tensor, scale: int, tile: int = 192, margin: int = 16) -> tf.Tensor:
    """scan [B, H, W, 1] -> restore's output [B, scale H, scale W, 1], window by window;
    `restore(window, levels)` maps [B, h, w, 1] to [B, scale h, scale w, 1]."""
    if tile <= 2 * margin:
        raise ValueError(f"tile={tile} must be larger than 2 x margin={margin}")
    h, w = tf.shape(scan)[1], tf.shape(scan)[2]
    ys, th, yb = cuts(h, tile, margin)
    xs, tw, xb = cuts(w, tile, margin)

    def row(i):
        def piece(j, pieces):
            window = scan[:, ys[i]:ys[i] + th, xs[j]:xs[j] + tw, :]
            out = restore(window, levels)
            top, left = (yb[i] - ys[i]) * scale, (xb[j] - xs[j]) * scale
            kept = out[:, top:(yb[i + 1] - ys[i]) * scale, left:(xb[j + 1] - xs[j]) * scale, :]
            # TensorArray.concat joins on axis 0: width first, then back.
            return j + 1, pieces.write(j, tf.transpose(kept, [2, 1, 0, 3]))

        pieces = tf.TensorArray(tf.float32, size=tf.size(xs), infer_shape=False)
        _, pieces = tf.while_loop(lambda j, _: j < tf.size(xs), piece, (0, pieces),
                                  parallel_iterations=1)
        return tf.transpose(pieces.concat(), [2, 1, 0, 3])  # [B, rows, scale W, 1]

    def add_row(i, rows):
        return i + 1, rows.write(i, tf.transpose(row(i), [1, 0, 2, 3]))

    rows = tf.TensorArray(tf.float32, size=tf.size(ys), infer_shape=False)
    _, rows = tf.while_loop(lambda i, _: i < tf.size(ys), add_row, (0, rows),
                            parallel_iterations=1)
    return tf.transpose(rows.concat(), [1, 0, 2, 3])


FIND_TILE, FIND_MARGIN = 512, 48  # multiples of 2^defect_finder.LEVELS


def find_tiled(found: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], L: tf.Tensor,
               levels: tf.Tensor, tile: int = FIND_TILE, margin: int = FIND_MARGIN) -> tf.Tensor:
    """L [B, H, W, 1] -> found(L, levels) [B, H, W, 1], window by window: the photo is
    edge-padded to a multiple of 8 (as the finder pads), so with tile and margin multiples
    of 8 every window starts on the finder's 8-pixel grid and sees what it would see in the
    whole photo, within `margin` (over the finder's receptive radius, ~37 px) of its cut."""
    m = 2 ** defect_finder.LEVELS
    if tile % m or margin % m:
        raise ValueError(f"tile={tile}, margin={margin}: both must be multiples of {m}")
    h, w = tf.shape(L)[1], tf.shape(L)[2]
    ph, pw = (m - h % m) % m, (m - w % m) % m
    padded = tf.concat([L, tf.repeat(L[:, -1:], ph, axis=1)], axis=1)
    padded = tf.concat([padded, tf.repeat(padded[:, :, -1:], pw, axis=2)], axis=2)
    return restore_tiled(found, padded, levels, 1, tile, margin)[:, :h, :w]


def defect_mask(found: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], L: tf.Tensor,
                levels: tf.Tensor, remove: bool) -> tf.Tensor:
    """The mask restoring fills [B, H, W, 1]: what `found` marks, found in tiles
    (find_tiled) and dropped where it covers most of a photo (restorer.keep_most); empty
    when not `remove` (defects=keep, or only super-resolving: a restorer that reads the mask
    takes a mask channel whether or not it is used)."""
    if not remove:
        return tf.zeros_like(L)
    return restorer_lib.keep_most(find_tiled(found, L, levels))


def restore_photo(run: Callable[[tf.Tensor], tf.Tensor], L: tf.Tensor, scale: int,
                  restore: bool, flip: bool, tile: int, margin: int,
                  find: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
                  strength: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
                  mask_channel: bool = True) -> tf.Tensor:
    """A whole photo's lightness L [B, H, W, 1] in [-1, 1] -> restored [B, scale H, scale W, 1]
    clipped to [-1, 1]: the photo's levels, the tiles, and the mirror average when `flip`
    (the rendering's) and only super-resolving (not `restore`). `run` maps
    restorer.model_input windows to the restorer's output: a Keras model in the serving
    graph, restorer.tflite in serve/litert.py.

    `find(L, levels)` -> a defect mask [B, H, W, 1] (a restorer with defects': find_tiled
    of `Restorer.found`, then restorer.keep_most): found before the restorer's tiles (the
    finder's view is wider than their margin), filled on the whole photo (models/fill.py),
    and tiled beside the filled lightness as the fourth input channel (unless not
    `mask_channel`: a finder added onto a restorer trained without one). Only
    super-resolving, the mask is empty.

    `strength(L, levels)` -> [B] in [0, 1] (a restorer with a gate's, models/gate.py):
    restoring keeps base + strength (restored - base), base being L at 1x and the
    super-resolution (restore off) at 2x and 4x; a pass whose share is 0 is not run."""
    lv = restorer_lib.levels(L)  # the whole photo's (its mirror image has the same)

    def tiled(x, restoring):
        def window_input(window, lv):
            mask = window[..., 1:] if find is not None and mask_channel else None
            return restorer_lib.model_input(window[..., :1], lv, restoring, mask)

        out = restore_tiled(lambda window, lv: run(window_input(window, lv)),
                            x, lv, scale, tile, margin)
        return tf.cast(out, tf.float32)

    def enlarged():
        # Mirror averaging only super-resolving: restoring an old scan it adds 0.01-0.04 dB
        # of L* (x1, x4 on samples:val) for a second restorer pass, ~45 % of a 1 MP restore
        # + colour; super-resolving a clean photo it adds 0.11-0.18 dB at x4
        # (restoration.md).
        x = L if find is None else tf.concat([L, tf.zeros_like(L)], axis=-1)

        def one(y):
            return tiled(y, False)
        return restorer_lib.mirror_average(one, x) if flip else one(x)

    def restored():
        if find is None:
            return tiled(L, True)
        mask = find(L, lv)
        return tiled(tf.concat([fill.push_pull(L, mask), mask], axis=-1), True)

    if not restore:
        out = enlarged()
    elif strength is None:
        out = restored()
    else:
        share = strength(L, lv)[:, None, None, None]
        base = (lambda: L) if scale == 1 else enlarged

        def blend():
            b = base()
            return b + share * (restored() - b)

        out = tf.cond(tf.reduce_all(share == 1.0), restored,
                      lambda: tf.cond(tf.reduce_all(share == 0.0), base, blend))
    return tf.clip_by_value(out, -1.0, 1.0)
