"""Encoded test images built in memory: real ones (Pillow) and hand-made headers that
declare far more pixels than their few bytes hold (decompression bombs)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(array: np.ndarray, fmt: str, **kw) -> bytes:
    """uint8 [H, W] or [H, W, C] -> bytes of a Pillow-written file."""
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt, **kw)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png16(array: np.ndarray) -> bytes:
    """uint16 [H, W] (gray) or [H, W, 3] (RGB) -> a 16-bit PNG (Pillow cannot write RGB16)."""
    h, w = array.shape[:2]
    colour_type = 0 if array.ndim == 2 else 2
    rows = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


def gif(frames: list[np.ndarray]) -> bytes:
    """Distinct uint8 RGB frames -> an animated GIF."""
    images = [Image.fromarray(f) for f in frames]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], optimize=False)
    return out.getvalue()


def animated_webp(frames: list[np.ndarray]) -> bytes:
    images = [Image.fromarray(f) for f in frames]
    out = io.BytesIO()
    images[0].save(out, format="WEBP", save_all=True, append_images=images[1:], lossless=True)
    return out.getvalue()


# ---------------------------------------------------------------- bombs: headers only

def png_bomb(side: int = 16383) -> bytes:
    body = zlib.compress(b"\x00" * 1024)  # a stream far shorter than the rows it declares
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def webp_lossless_bomb(side: int = 16383) -> bytes:
    """VP8L header: 0x2f, then 14 bits width - 1, 14 bits height - 1."""
    bits = (side - 1) | (side - 1) << 14
    body = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 64
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_lossy_bomb(side: int = 16383) -> bytes:
    """VP8 key frame header: 3-byte frame tag, 9d 01 2a, 14-bit width and height."""
    body = b"\x50\x0b\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", side, side) + b"\x00" * 64
    chunk = b"VP8 " + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_canvas_bomb(side: int = 1 << 24) -> bytes:
    """VP8X whose 24-bit canvas is huge around a small VP8L image."""
    vp8x = b"\x00\x00\x00\x00" + struct.pack("<I", side - 1)[:3] + struct.pack("<I", side - 1)[:3]
    inner = webp_lossless_bomb(16)[12:]
    chunk = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + inner
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def bmp_bomb(side: int = 30000) -> bytes:
    """BITMAPINFOHEADER of side x -side (top-down), 24 bits, no pixel data."""
    info = struct.pack("<IiiHHIIiiII", 40, side, -side, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def gif_bomb(screen: int = 4000, frames: int = 10) -> bytes:
    """A screen x screen GIF of `frames` 1x1 frames: TF allocates frames x screen^2 pixels."""
    out = b"GIF89a" + struct.pack("<HHBBB", screen, screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    for _ in range(frames):
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00"
    return out + b"\x3b"


def jpeg_bomb(side: int = 65000) -> bytes:
    """A real 8x8 JPEG whose SOF0 is patched to declare side x side."""
    small = encode(np.zeros((8, 8), np.uint8), "JPEG")
    at = small.index(b"\xff\xc0") + 5  # marker, length (2), precision (1): then height, width
    return small[:at] + struct.pack(">HH", side, side) + small[at + 4:]
