"""Reference photos for evaluate.py --reference (issue 32): each val photo's centre crop
paired with a colour reference made from the same set, seeded, so runs compare.

  same_scene  a different view of the same photo: a window of about 70 % of the crop's side
              (x0.85-1.15), 4:3, shifted up to a fifth of the side from the centre (so it
              overlaps the crop only in part, and reaches outside it where the photo is wider),
              mirrored left-right, resized to 3/4 x 1 of the crop's side: another size and
              aspect than the target, as a user's reference would be.
  other       the same kind of view of an unrelated photo: the next one (the last photo
              takes the first's), so the confidence gate is what keeps the automatic colour.

Shapes: crops [B, S, S, 3], references [B, 3 S / 4, S, 3], RGB in [0, 1].
"""

from __future__ import annotations

from typing import Iterator

import tensorflow as tf

from colorgan.data import input_pipeline, sources
from colorgan.errors import UserError

KINDS = ("same_scene", "other")
SIDE = 0.7  # the window's height as a share of the crop's side (before the x0.85-1.15)
SHIFT = 0.2  # the window centre's largest offset from the crop's, as a share of its side


def view(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """A photo [H, W, 3] and a stateless seed [2] -> its reference view [3 size / 4, size, 3]
    (the module's docstring): the window is placed on the photo resized as eval_crop does
    (shorter side to `size`), so it shares the crop's scale before its own resize."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    new = tf.maximum(tf.cast(tf.round(shape * size / tf.reduce_min(shape)), tf.int32), size)
    image = tf.image.resize(image, new, antialias=True)
    u = tf.random.stateless_uniform([3], seed, -1.0, 1.0)
    height = tf.cast(size * SIDE * (1.0 + 0.15 * u[0]), tf.int32)
    width = tf.minimum(height * 4 // 3, new[1])
    centre = tf.cast(new, tf.float32) / 2 + u[1:] * SHIFT * size
    top = tf.clip_by_value(tf.cast(centre[0], tf.int32) - height // 2, 0, new[0] - height)
    left = tf.clip_by_value(tf.cast(centre[1], tf.int32) - width // 2, 0, new[1] - width)
    window = image[top:top + height, left:left + width, :][:, ::-1]
    return tf.clip_by_value(tf.image.resize(window, [size * 3 // 4, size], antialias=True),
                            0.0, 1.0)


def pairs(source: sources.ImageSource, kind: str, *, size: int, batch_size: int,
          limit: int | None = None, seed: int = 0) -> Iterator[tuple[tf.Tensor, tf.Tensor]]:
    """(crops [B, S, S, 3], references [B, 3 S / 4, S, 3]) batches in the source's order,
    crop i the same as input_pipeline.eval_dataset's; photo i's view is seeded by (seed, i).
    `other` gives photo i the view of photo i + 1 (the last photo the first's), whatever the
    batch size: each photo is decoded twice."""
    if kind not in KINDS:
        raise UserError(f"reference={kind!r}: choose one of {', '.join(KINDS)}")
    known = [n for n in (source.size, limit) if n is not None]  # a stream's size is unknown
    if kind == "other" and known and min(known) < 2:
        raise UserError("reference=other needs at least two photos")
    photos = source.ordered_images(size)
    if limit is not None:
        photos = photos.take(limit)
    if kind == "other" and not known and sum(1 for _ in photos.take(2)) < 2:
        raise UserError("reference=other needs at least two photos")  # else its own view
    views = photos.enumerate().map(
        sources.plain(lambda i, im: view(im, size, tf.stack([tf.constant(seed, tf.int64), i]))),
        num_parallel_calls=tf.data.AUTOTUNE)
    if kind == "other":  # the next photo's view: shifted by one, the first's at the end
        views = views.skip(1).concatenate(views.take(1))
    crops = photos.map(sources.plain(lambda im: input_pipeline.eval_crop(im, size)),
                       num_parallel_calls=tf.data.AUTOTUNE)
    ds = tf.data.Dataset.zip((crops, views)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    yield from ds
