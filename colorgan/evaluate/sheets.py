"""Comparison sheets: rows of gray | colorized | truth, as arrays and as a matplotlib PNG."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no backend, no global state

from colorgan import color, fileio


def columns(L, ab_pred, ab_true=None, color_space: str = "lab") -> dict[str, np.ndarray]:
    """Model-range L [N, H, W, 1] and ab [N, H, W, 2] -> {title: RGB [N, H, W, 3] in [0, 1]}.

    (Y and UV for color_space="yuv".)
    """
    space = color.get_space(color_space)
    cols = {"grayscale input": space.gray_rgb(L).numpy(),
            "colorized": space.to_rgb(L, ab_pred).numpy()}
    if ab_true is not None:
        cols["ground truth"] = space.to_rgb(L, ab_true).numpy()
    return cols


def save_sheet(cols: dict[str, np.ndarray], path: fileio.PathLike, title: str = "") -> None:
    """Writes a PNG grid, one row per image and one column per entry of `cols`.

    `path` may be remote (gs://...). Written atomically (fileio.write_bytes_atomic), so a
    reader never sees half a file.
    """
    # A bare Figure renders with Agg and never touches pyplot's backend: switching the
    # global backend (matplotlib.use) would stop a notebook showing its figures inline.

    names = list(cols)
    rows = len(cols[names[0]])
    fig = Figure(figsize=(2.2 * len(names), 2.2 * rows + 0.4))
    axes = fig.subplots(rows, len(names), squeeze=False)
    for c, name in enumerate(names):
        for r in range(rows):
            ax = axes[r][c]
            ax.imshow(np.clip(cols[name][r], 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    # Rendered in memory: matplotlib writes local files only, gfile writes anywhere.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    fileio.write_bytes_atomic(path, buf.getvalue())
