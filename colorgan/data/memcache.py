"""A finite source's photos decoded once and kept in memory (issue 16.2).

At small training sizes the input pipeline's work is mostly JPEG decoding: caching the
decoded photos gives those cores back to the train step. The cache holds exactly what
`source.load(item, min_side)` returns, as the integers it was decoded from (uint8, or
uint16 when some photo is a PNG) and the decoder's scale, so a cached stream's batches
equal the uncached ones bit for bit and exact resume is untouched.

Layout: all photos' pixels in one flat integer tensor plus offset, height and width per
photo; a lookup table maps an item (a folder's path) to its photo's index.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan.data import sources

# Photos decoded before the first estimate of the whole cache's size.
_PROBE = 32


@dataclasses.dataclass(frozen=True, eq=False)
class CachedSource(sources.ImageSource):
    """`inner` with `load(item, min_side)` served from memory (for that one min_side).

    Everything else (order, elements, names) is `inner`'s, so the stream is unchanged.
    """

    inner: sources.ImageSource
    min_side: int
    pixels: tf.Tensor   # uint8 or uint16 [sum of H*W*3]: every photo, row-major, one after another
    offsets: tf.Tensor  # int64 [N]: where photo i starts in `pixels`
    shapes: tf.Tensor   # int64 [N, 2]: (H, W) of photo i
    scales: tf.Tensor   # float32 [N]: 1/255 or 1/65535, the decoder's own factor for photo i
    table: tf.lookup.StaticHashTable  # item (tf.string) -> photo index (int64)

    @property
    def spec(self) -> str:
        return self.inner.spec

    @property
    def min_chroma(self) -> float:
        return self.inner.min_chroma

    @property
    def size(self) -> int | None:
        return self.inner.size

    @property
    def skipped_unreadable(self) -> int:
        return self.inner.skipped_unreadable

    @property
    def skipped_grayscale(self) -> int:
        return self.inner.skipped_grayscale

    @property
    def names(self) -> tuple[str, ...]:
        return self.inner.names

    @property
    def nbytes(self) -> int:
        return int(self.pixels.shape[0]) * self.pixels.dtype.size

    def ordered_items(self) -> tf.data.Dataset:
        return self.inner.ordered_items()

    def named_bytes(self):
        return self.inner.named_bytes()

    def elements(self, **kwargs) -> tf.data.Dataset:
        return self.inner.elements(**kwargs)

    def load(self, item: tf.Tensor, min_side: int = 0) -> tf.Tensor:
        """float32 RGB [H, W, 3] in [0, 1], equal to inner.load(item, min_side)."""
        if min_side != self.min_side:  # decoded at another scale: not what the cache holds
            return self.inner.load(item, min_side)
        i = self.table.lookup(item)
        tf.debugging.assert_non_negative(i, message="item not in the in-memory cache")
        shape = self.shapes[i]
        start = self.offsets[i]
        flat = self.pixels[start:start + shape[0] * shape[1] * 3]
        image = tf.reshape(flat, tf.concat([shape, [3]], 0))
        # What convert_image_dtype computes from the decoder's integers: bit-equal floats.
        return tf.ensure_shape(tf.cast(image, tf.float32) * self.scales[i], [None, None, 3])


def _integers(image: np.ndarray) -> tuple[np.ndarray, int] | None:
    """float32 [H, W, 3] in [0, 1] -> (integers k, top) with k * float32(1 / top) == image bit
    for bit, as tf.image.convert_image_dtype makes it from uint8 (top 255: k is uint8) or
    uint16 (top 65535: a 16-bit PNG, and every PNG, which decode.py reads as uint16).
    None if neither reproduces the image: then it is no decoder's output, and not cached."""
    for top, dtype in ((255, np.uint8), (65535, np.uint16)):
        k = np.rint(image * top).astype(dtype)
        if np.array_equal(k.astype(np.float32) * np.float32(1 / top), image):
            return k, top
    return None


def cache_in_memory(source: sources.ImageSource, min_side: int,
                    budget_mb: float) -> sources.ImageSource:
    """`source` with its photos (decoded for `min_side`) in memory when they fit in
    `budget_mb`, else `source` itself. Streams (TFDS, TFRecords) are never cached: their
    length is unknown and each photo is read once per epoch at most anyway.

    Decoding stops as soon as the photos so far, extrapolated to the whole source, need
    more than 1.5x the budget, so a large folder costs little before it is turned down.
    Memory while building: the budget, plus one photo. Each input pipeline (each worker)
    holds its own cache, and each size of a progressive schedule decodes its own.
    """
    if budget_mb <= 0 or source.is_stream or isinstance(source, CachedSource):
        return source
    budget, count = budget_mb * 2 ** 20, source.size
    start = time.perf_counter()
    items, ints, tops, nbytes = [], [], [], 0
    pairs = tf.data.Dataset.zip(source.ordered_items(), source.ordered_images(min_side))
    for item, image in pairs.as_numpy_iterator():
        pair = _integers(image)
        if pair is None:
            logging.info("%s: a photo is not a decoder's integers; decoding on the fly",
                         source.spec)
            return source
        items.append(item)
        ints.append(pair[0])
        tops.append(pair[1])
        # Once one photo needs 16 bits every value is stored in 16.
        nbytes = sum(k.size for k in ints) * (1 if max(tops) == 255 else 2)
        if nbytes > budget or (len(items) == _PROBE and nbytes / _PROBE * count > 1.5 * budget):
            logging.info("%s: decoded photos need more than --cache_mb=%g MB; decoding them "
                         "on the fly", source.spec, budget_mb)
            return source
    dtype = np.uint8 if max(tops) == 255 else np.uint16
    shapes = np.array([k.shape[:2] for k in ints], np.int64)
    sizes = shapes[:, 0] * shapes[:, 1] * 3
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pixels = np.empty(int(sizes.sum()), dtype)  # filled photo by photo: one copy at a time
    for i, offset in enumerate(offsets):
        pixels[offset:offset + sizes[i]] = ints[i].ravel()
        ints[i] = None
    scales = np.array([1 / top for top in tops], np.float32)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(items), tf.range(len(items), dtype=tf.int64)),
        default_value=-1)
    cached = CachedSource(inner=source, min_side=min_side, pixels=tf.constant(pixels),
                          offsets=tf.constant(offsets, tf.int64), shapes=tf.constant(shapes),
                          scales=tf.constant(scales), table=table)
    logging.info("%s: %d photos decoded into memory (%.0f MB %s) in %.1f s", source.spec,
                 len(items), cached.nbytes / 2 ** 20, dtype.__name__, time.perf_counter() - start)
    return cached
