"""Image files in and out: read (EXIF-rotated, through the serving graph's own decoder)
and write (PNG or JPEG, published whole). Local files (pathlib)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from colorgan import fileio
from colorgan.data.decode import DEFAULT_MAX_PIXELS, decode_image


# EXIF orientation -> numpy ops that undo it, as PIL.ImageOps.exif_transpose does.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
    8: lambda a: np.rot90(a, 1),
}


def exif_orientation(encoded: bytes) -> int:
    """The EXIF orientation tag (1..8; 1 when absent or unreadable). Reads the header only."""
    try:
        with Image.open(io.BytesIO(encoded)) as im:
            return int(im.getexif().get(0x0112, 1))
    except Exception:  # Pillow cannot parse it: TF decides whether the image is readable
        return 1


def max_file_bytes(max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The most bytes an image file of at most `max_pixels` pixels can hold: 8 per pixel
    (RGBA at 16 bits, uncompressed) and 1 MiB of metadata. Larger files are refused before
    they are read, so a 10 GB video named .jpg never lands in memory."""
    return 8 * max_pixels + (1 << 20)


def _check_bytes(size: int, max_pixels: int) -> None:
    if size > max_file_bytes(max_pixels):
        raise ValueError(f"{size:,} bytes: larger than any image of at most {max_pixels:,} "
                         "pixels")


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """File -> float32 RGB [H, W, 3] in [0, 1], EXIF-rotated.

    Decoded by `decode.decode_image`, the very decoder the exported serving graph runs, so
    a file gives the same pixels here as through TF Serving (16-bit PNGs keep their 16
    bits, bombs are refused from their header); only the EXIF rotation, which TF's
    decoders ignore, is applied here on top. A file larger than max_file_bytes is refused
    unread (ValueError).
    """
    with open(path, "rb") as f:
        _check_bytes(os.fstat(f.fileno()).st_size, max_pixels)  # before reading it
        return decode_bytes(f.read(max_file_bytes(max_pixels) + 1), max_pixels)


def decode_bytes(encoded: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> float32 RGB [H, W, 3] in [0, 1], EXIF-rotated (read_image's
    decoding, for bytes that come from elsewhere: the web app's uploads)."""
    _check_bytes(len(encoded), max_pixels)
    image = decode_image(tf.constant(encoded), max_pixels=max_pixels).numpy()
    turn = _ORIENT.get(exif_orientation(encoded))
    return np.ascontiguousarray(turn(image)) if turn else image


def encode_image(array: np.ndarray, fmt: str) -> bytes:
    """RGB float [H, W, 3] in [0, 1] -> PNG or JPEG bytes, as the exported serving graph
    encodes them: PNG at zlib level 1 (a 1 MP photo in ~50 ms, 5x faster than level 6 for
    ~10 % more bytes), JPEG at quality 95 without chroma subsampling (it would halve the
    colour resolution just predicted). TensorFlow's encoders: they run outside the GIL,
    so photos encode in threads beside the model (archive/stream.py)."""
    pixels = tf.constant(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))
    if fmt == "png":
        return tf.io.encode_png(pixels, compression=1).numpy()
    return tf.io.encode_jpeg(pixels, quality=95, chroma_downsampling=False).numpy()


def write_image(array: np.ndarray, path: Path, fmt: str) -> None:
    """RGB float [H, W, 3] in [0, 1] -> PNG or JPEG file (encode_image), published whole."""
    fileio.write_bytes_atomic(path, encode_image(array, fmt))
