"""A colour reference photo (colorize.py --reference, the web app's upload): read and
checked before any model runs, so a bad one is one line naming it.

Refused: a file that is missing, no image, larger than the pixel limit, or gray (mean Lab
chroma below correspondence.MIN_CHROMA: it has no colour to give). Any size and aspect is
fine: the serving graph resizes it to about the render's area (graph.Colorizer).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from colorgan import color
from colorgan.data import imagefiles
from colorgan.data.decode import DEFAULT_MAX_PIXELS
from colorgan.errors import UserError, first_line
from colorgan.models import correspondence


def check(rgb: np.ndarray, name: str) -> np.ndarray:
    """RGB [h, w, 3] in [0, 1] -> itself; UserError naming `name` when it is gray."""
    chroma = float(color.mean_chroma(color.rgb_to_lab(tf.constant(rgb[..., :3], tf.float32))))
    if chroma < correspondence.MIN_CHROMA:
        raise UserError(f"reference: {name} is gray (mean chroma {chroma:.1f}); a reference "
                        "must be in colour")
    return rgb[..., :3]


def read(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A reference file -> RGB [h, w, 3] float32 in [0, 1]; UserError naming it otherwise."""
    return decode(None, str(path), max_pixels)


def decode(data: bytes | None, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded bytes (None: read the file `name`) -> RGB [h, w, 3] float32 in [0, 1], checked;
    UserError naming `name` for anything that is not a colour photo of at most max_pixels."""
    try:
        rgb = (imagefiles.read_image(Path(name), max_pixels) if data is None
               else imagefiles.decode_bytes(data, max_pixels))
    except OSError as e:
        raise UserError(f"reference: {name}: {e.strerror or e}") from None
    except (ValueError, tf.errors.InvalidArgumentError) as e:
        raise UserError(f"reference: {name} is not a readable image: {first_line(e)}") from None
    return check(rgb, name)


def read_many(spec: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[np.ndarray]:
    """"a.png,b.jpg" (colorize.py --reference) -> their RGB [h, w, 3] float32 in [0, 1], in
    that order; a name that is itself a file (a comma in it) is one reference."""
    names = [spec] if Path(spec).is_file() else [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise UserError(f"reference={spec!r}: name one or more colour photos")
    return [read(name, max_pixels) for name in names]
