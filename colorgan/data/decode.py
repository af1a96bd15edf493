"""Encoded image bytes (or a file) -> float32 RGB [H, W, 3] in [0, 1].

Its own module so that every kind of source (sources.py, folders.py, records.py,
tfds_source.py), input_pipeline.py and data/imagefiles.py can decode without importing
each other.
"""

from __future__ import annotations

import tensorflow as tf

from colorgan.data import imageheader

# Larger images are refused before decoding (export.py --max_pixels sets the served limit).
DEFAULT_MAX_PIXELS = 50_000_000


def decode_image(data: tf.Tensor, min_side: int = 0,
                 max_pixels: int | tf.Tensor = DEFAULT_MAX_PIXELS,
                 accurate_jpeg: bool = False) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF/WebP bytes -> float32 RGB [H, W, 3] in [0, 1].

    Grayscale becomes 3 equal channels, alpha is dropped, a GIF gives its first frame,
    a 16-bit PNG keeps its 16 bits. With `min_side`, a large JPEG is decoded at 1/2, 1/4
    or 1/8 scale (DCT scaling, several times faster) as long as its shorter side stays
    >= min_side. The header is checked first (`imageheader.check`): an image declaring
    more than max_pixels is refused before the decoder allocates anything.
    `accurate_jpeg` decodes JPEGs with libjpeg's accurate integer DCT, as PIL does (bit for
    bit on the shipped photos); TF's default fast DCT is ~1 level off (up to 6), enough to
    move FID features by 4 % (fid.py).
    Raises InvalidArgumentError for bytes that are no image, or too large a one.
    """
    dct = "INTEGER_ACCURATE" if accurate_jpeg else ""
    data = imageheader.checked(data, tf.cast(max_pixels, tf.int64))
    is_webp, is_jpeg, is_png = (imageheader.is_webp(data), imageheader.is_jpeg(data),
                                imageheader.is_png(data))

    def webp():
        img = tf.io.decode_webp(data)  # [frames, H, W, C]: keep the first frame
        img = tf.reshape(img, tf.concat([[-1], tf.shape(img)[-3:]], 0))[0]
        img = tf.image.grayscale_to_rgb(img) if img.shape[-1] == 1 else img[..., :3]
        return tf.image.convert_image_dtype(img, tf.float32)

    def jpeg():
        if not min_side:
            return tf.image.convert_image_dtype(
                tf.io.decode_jpeg(data, channels=3, dct_method=dct), tf.float32)
        shape = tf.image.extract_jpeg_shape(data)
        short = tf.minimum(shape[0], shape[1])
        branches = [lambda r=r: tf.io.decode_jpeg(data, channels=3, ratio=r, dct_method=dct)
                    for r in (1, 2, 4, 8)]
        # Largest power-of-two reduction that keeps the shorter side >= min_side.
        index = tf.reduce_sum(tf.cast(short >= min_side * tf.constant([2, 4, 8]), tf.int32))
        return tf.image.convert_image_dtype(tf.switch_case(index, branches), tf.float32)

    def png():  # uint16 keeps a 16-bit PNG's precision (an 8-bit one is scaled by 257)
        return tf.image.convert_image_dtype(tf.io.decode_png(data, channels=3, dtype=tf.uint16),
                                            tf.float32)

    def other():
        return tf.image.convert_image_dtype(
            tf.io.decode_image(data, channels=3, expand_animations=False), tf.float32)

    img = tf.case([(is_webp, webp), (is_jpeg, jpeg), (is_png, png)], default=other, exclusive=True)
    return tf.ensure_shape(img, [None, None, 3])


def load_file(path: tf.Tensor, min_side: int = 0,
              max_pixels: int | tf.Tensor = DEFAULT_MAX_PIXELS,
              accurate_jpeg: bool = False) -> tf.Tensor:
    """File path -> float32 RGB [H, W, 3] in [0, 1] (see `decode_image`)."""
    return decode_image(tf.io.read_file(path), min_side, max_pixels, accurate_jpeg)
