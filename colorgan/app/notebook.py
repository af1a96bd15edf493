"""What the Colab notebook calls: where it runs, which data to use, pictures to show.

The notebook's cells stay one-liners over this module and the rest of the package, so
the logic is tested like any other code and the notebook cannot drift from it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from colorgan import net
from colorgan.data.folders import list_image_files

DRIVE_ROOT = "/content/drive"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def online() -> bool:
    """Whether datasets and weights can be downloaded (a 3 s probe, never a hang)."""
    return net.host_reachable(net.DOWNLOAD_HOST)


def choose_data(requested: str = "auto", online_dataset: str = "tfds:imagenette") -> str:
    """Turns the notebook's DATA choice into a --data value.

    "auto": `online_dataset` when the machine is online, else the shipped samples.
    "drive:PATH": mounts Google Drive in Colab and uses MyDrive/PATH (a photo folder).
    Anything else (samples, a folder, tfds:NAME, tfrecord:GLOB) is used as it is.
    """
    if requested == "auto":
        return online_dataset if online() else "samples"
    if requested.startswith("drive:"):
        if not in_colab():
            raise RuntimeError("drive: works in Colab only; give a folder path instead")
        from google.colab import drive  # type: ignore[import-not-found]
        drive.mount(DRIVE_ROOT)
        return str(Path(DRIVE_ROOT) / "MyDrive" / requested[len("drive:"):])
    return requested


def photos_to_colorize(folder: str | os.PathLike, fallback: str | os.PathLike,
                       upload: bool = True) -> list[str]:
    """Paths of the user's photos: uploaded through the browser in Colab (saved into
    `folder`), else the images in `fallback` (e.g. the shipped validation photos)."""
    folder = Path(folder)
    if upload and in_colab():
        from google.colab import files  # type: ignore[import-not-found]
        folder.mkdir(parents=True, exist_ok=True)
        uploaded = files.upload()
        paths = []
        for name, content in uploaded.items():
            (folder / name).write_bytes(content)
            paths.append(str(folder / name))
        if paths:
            return paths
    return list_image_files(fallback)


def side_by_side(pairs: list[tuple[str | os.PathLike, str | os.PathLike]], max_rows: int = 6,
                 thumb: int = 256):
    """A matplotlib figure: each input photo as the model saw it (gray) next to its
    colorized version. Returns the figure (Jupyter shows it)."""
    import matplotlib  # pyplot picks its backend on import: only once a figure is drawn
    import matplotlib.pyplot as plt  # (in the notebook)

    pairs = pairs[:max_rows]
    fig, axes = plt.subplots(len(pairs), 2, figsize=(6, 3 * len(pairs)), squeeze=False)
    for row, (src, out) in zip(axes, pairs):
        gray = ImageOps.exif_transpose(Image.open(src)).convert("L")
        colour = Image.open(out).convert("RGB")
        for ax, image, title in ((row[0], gray, "input (gray)"), (row[1], colour, "colorgan")):
            image.thumbnail((thumb, thumb))
            ax.imshow(np.asarray(image), cmap="gray" if image.mode == "L" else None,
                      vmin=0, vmax=255)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    if matplotlib.get_backend().lower().endswith("agg") and not _in_jupyter():
        plt.close(fig)  # scripts: no window to show it in
    return fig


def _in_jupyter() -> bool:
    return "ipykernel" in sys.modules
