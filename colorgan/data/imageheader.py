"""What an encoded image declares about itself, read before anything is decoded.

A 10 KB lossless WebP can declare 16383 x 16383 pixels, a GIF thousands of frames:
the decoders allocate what the header says, gigabytes, before any later check can
refuse the image. `check` reads the header of every format `decode.decode_image`
accepts and refuses the image (InvalidArgument) while it is still a few bytes:

  JPEG  SOF dimensions (tf.image.extract_jpeg_shape: parses, decodes nothing)
  PNG   IHDR width, height
  GIF   every frame: TF decodes all of them onto the logical screen, so the cost is
        the sum over frames of max(screen, frame) pixels
  BMP   BITMAPINFOHEADER / BITMAPCOREHEADER width, |height|
  WebP  VP8 / VP8L bitstream header, or the VP8X canvas. Animated WebP is refused
        outright: tf.io.decode_webp in TF 2.21 corrupts the heap and kills the
        process on one (measured; docs/notes/reliability.md).

Pure TF ops, so the same check runs eagerly, in tf.data and inside the exported
serving graph.
"""

from __future__ import annotations

import tensorflow as tf

_HEAD = 32  # bytes every header check needs


def _bytes(data: tf.Tensor, length: int) -> tf.Tensor:
    """The first `length` bytes as int64 [length], zero-padded when the data is shorter."""
    raw = tf.io.decode_raw(tf.strings.substr(data, 0, length), tf.uint8)
    return tf.cast(tf.pad(raw, [[0, length - tf.shape(raw)[0]]]), tf.int64)


def _head(data: tf.Tensor) -> tf.Tensor:
    """The first _HEAD bytes, zero-padded: substr past the end of a string is an error."""
    return tf.strings.substr(tf.strings.join([data, b"\0" * _HEAD]), 0, _HEAD)


def is_webp(data: tf.Tensor) -> tf.Tensor:
    head = _head(data)  # bytes, not a regex: RE2's "." is a UTF-8 character
    return tf.logical_and(tf.equal(tf.strings.substr(head, 0, 4), b"RIFF"),
                          tf.equal(tf.strings.substr(head, 8, 4), b"WEBP"))


def is_png(data: tf.Tensor) -> tf.Tensor:
    return tf.equal(tf.strings.substr(_head(data), 0, 8), b"\x89PNG\r\n\x1a\n")


def is_jpeg(data: tf.Tensor) -> tf.Tensor:
    return tf.equal(tf.strings.substr(_head(data), 0, 2), b"\xff\xd8")


def _le(b: tf.Tensor, at: int, n: int) -> tf.Tensor:
    """Little-endian unsigned integer of n bytes at `at`."""
    return sum(b[at + i] * (256 ** i) for i in range(n))


def _be(b: tf.Tensor, at: int, n: int) -> tf.Tensor:
    return sum(b[at + i] * (256 ** (n - 1 - i)) for i in range(n))


def _png(b):
    return _be(b, 16, 4) * _be(b, 20, 4)


def _bmp(b):
    header = _le(b, 14, 4)
    core = tf.equal(header, 12)  # OS/2 BITMAPCOREHEADER: 16-bit sides
    width = tf.where(core, _le(b, 18, 2), _le(b, 18, 4))
    height = tf.where(core, _le(b, 20, 2), _le(b, 22, 4))
    height = tf.where(height >= 2 ** 31, 2 ** 32 - height, height)  # negative = top-down
    width = tf.where(width >= 2 ** 31, 2 ** 32 - width, width)
    return width * height


def _webp(data, b):
    chunk = tf.strings.substr(_head(data), 12, 4)
    # VP8 (lossy): 14-bit sides after the 3-byte frame tag and the 9d 01 2a start code.
    vp8 = (_le(b, 26, 2) % 2 ** 14) * (_le(b, 28, 2) % 2 ** 14)
    # VP8L (lossless): after the 0x2f signature, 14 bits width - 1 and 14 bits height - 1.
    bits = _le(b, 21, 4)
    vp8l = (bits % 2 ** 14 + 1) * ((bits // 2 ** 14) % 2 ** 14 + 1)
    # VP8X (extended): 24-bit canvas width - 1 and height - 1.
    vp8x = (_le(b, 24, 3) + 1) * (_le(b, 27, 3) + 1)
    return tf.case([(tf.equal(chunk, "VP8 "), lambda: vp8),
                    (tf.equal(chunk, "VP8L"), lambda: vp8l)], default=lambda: vp8x)


def webp_is_animated(data: tf.Tensor) -> tf.Tensor:
    """True for a VP8X WebP whose animation flag is set."""
    b = _bytes(data, _HEAD)
    is_vp8x = tf.equal(tf.strings.substr(_head(data), 12, 4), b"VP8X")
    return tf.logical_and(is_webp(data) & is_vp8x, tf.equal((b[20] // 2) % 2, 1))


def _gif(data):
    """Sum over frames of max(screen, frame) pixels, walking the GIF block structure."""
    b = tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int64)
    n = tf.shape(b, out_type=tf.int64)[0]

    def at(i):  # reading past the end gives 0 (which ends the walk) instead of an error
        i = tf.cast(i, tf.int64)
        return tf.where(i < n, tf.gather(b, tf.minimum(i, n - 1)), tf.constant(0, tf.int64))

    screen = (at(6) + at(7) * 256) * (at(8) + at(9) * 256)
    flags = at(10)
    table = tf.where(flags >= 128, 3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), flags % 8), 0)
    # state 0: at a block introducer; state 1: in a run of data sub-blocks.
    pos0, state0, total0 = 13 + table, tf.constant(0, tf.int64), tf.constant(0, tf.int64)

    def more(pos, state, total):
        return tf.logical_and(pos < n, tf.logical_or(state == 1,
                                                     tf.logical_or(at(pos) == 0x21, at(pos) == 0x2C)))

    def step(pos, state, total):
        size = at(pos)

        def block():
            is_image = tf.equal(size, 0x2C)
            frame = (at(pos + 5) + at(pos + 6) * 256) * (at(pos + 7) + at(pos + 8) * 256)
            local = at(pos + 9)
            local_table = tf.where(local >= 128,
                                   3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), local % 8), 0)
            # Image: 10-byte descriptor, colour table, LZW code size; extension: 0x21 + label.
            skip = tf.where(is_image, 10 + local_table + 1, 2)
            added = tf.where(is_image, tf.maximum(screen, frame), 0)
            return pos + skip, tf.constant(1, tf.int64), total + added

        def sub_block():  # a zero length ends the run
            return pos + size + 1, tf.cast(size != 0, tf.int64), total

        return tf.cond(state == 0, block, sub_block)

    _, _, total = tf.while_loop(more, step, (pos0, state0, total0))
    return tf.maximum(total, screen)  # a GIF with no frame still allocates one screen


def declared_pixels(data: tf.Tensor) -> tf.Tensor:
    """Encoded image bytes (scalar string) -> int64 pixels its decoding allocates.

    -1 when the bytes are none of JPEG, PNG, GIF, BMP, WebP; raises InvalidArgument for a
    JPEG whose header is broken.
    """
    b = _bytes(data, _HEAD)
    head = _head(data)
    is_gif = tf.logical_or(tf.equal(tf.strings.substr(head, 0, 6), b"GIF87a"),
                           tf.equal(tf.strings.substr(head, 0, 6), b"GIF89a"))
    is_bmp = tf.equal(tf.strings.substr(head, 0, 2), b"BM")

    def jpeg():
        return tf.reduce_prod(tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64))

    return tf.case([(is_jpeg(data), jpeg), (is_png(data), lambda: _png(b)),
                    (is_gif, lambda: _gif(data)), (is_bmp, lambda: _bmp(b)),
                    (is_webp(data), lambda: _webp(data, b))],
                   default=lambda: tf.constant(-1, tf.int64))


def check(data: tf.Tensor, max_pixels: int | tf.Tensor) -> list[tf.Operation]:
    """Assertions to run before decoding `data`: a known format, not an animated WebP, and
    at most max_pixels declared. Each fails with InvalidArgument and a one-line reason."""
    pixels = declared_pixels(data)
    max_pixels = tf.cast(max_pixels, tf.int64)
    return [
        tf.debugging.assert_greater(tf.strings.length(data), 0,
                                    message="the image is an empty string"),
        tf.debugging.assert_non_negative(
            pixels, message="not a JPEG, PNG, GIF, BMP or WebP image"),
        tf.debugging.assert_equal(webp_is_animated(data), False,
                                  message="animated WebP is not supported"),
        tf.debugging.assert_less_equal(
            pixels, max_pixels,
            message="image declares more pixels than max_pixels (a decompression bomb?)"),
    ]


@tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int64)],
             autograph=False)
def checked(data: tf.Tensor, max_pixels: tf.Tensor) -> tf.Tensor:
    """`data` (scalar string), once `check(data, max_pixels)` passes. One function traced
    once per process: building the header parsers' graph takes ~0.4 s, and every decoder
    graph (each tf.data map, each serving signature, each export's save) would build it
    again; calling this adds one op instead."""
    with tf.control_dependencies(check(data, max_pixels)):
        return tf.identity(data)
