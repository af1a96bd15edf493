"""Folder sources: a folder of photos (recursive) or the shipped samples (`samples[:val]`).

A folder is scanned once when opened: files that do not decode, and grayscale photos
(which teach a colorizer to desaturate), are left out and counted. Training order is an
exact function of (seed, element index) (`sources.permuted_elements`): resuming at
element k reads none of the images before it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Iterator

import tensorflow as tf
from absl import logging

from colorgan import color, fileio
from colorgan.data import decode, sources
from colorgan.errors import UserError

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
_SCAN_SIDE = 64  # chroma is judged on a thumbnail: cheap and just as telling


@dataclasses.dataclass(frozen=True)
class FolderSource(sources.ImageSource):
    """Known image files; items are their paths (scalar tf.string)."""

    spec: str
    paths: tuple[str, ...]
    # The scan left grayscale photos out already: nothing to weigh on the fly.
    min_chroma: float = 0.0
    skipped_unreadable: int = 0
    skipped_grayscale: int = 0

    @property
    def size(self) -> int:
        return len(self.paths)

    @property
    def names(self) -> tuple[str, ...]:
        return self.paths

    def ordered_items(self) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(list(self.paths))

    def elements(self, *, seed, start, shuffle_buffer, batch_size, input_context):
        del shuffle_buffer  # each epoch is a whole permutation: no buffer needed
        paths = tf.constant(self.paths)
        stream = sources.permuted_elements(len(self.paths), seed, start).map(
            sources.plain(lambda i, f: (i, paths[f])))
        return sources.pipeline_slice(stream, batch_size, input_context)

    def load(self, item: tf.Tensor, min_side: int = 0) -> tf.Tensor:
        return decode.load_file(item, min_side)

    def named_bytes(self) -> Iterator[tuple[str, bytes]]:
        """Names are paths relative to the files' common folder."""
        root = os.path.commonpath(self.paths) if len(self.paths) > 1 else ""
        for path in self.paths:
            with tf.io.gfile.GFile(path, "rb") as f:
                yield os.path.relpath(path, root) if root else Path(path).name, f.read()


def list_image_files(folder: str | os.PathLike) -> list[str]:
    """Sorted image files under `folder`, recursively, by extension (case-insensitive).
    A dangling link is listed, so that it fails as unreadable instead of vanishing."""
    root = Path(folder)
    if not root.exists():
        raise UserError(f"{folder} does not exist")
    if root.is_file():
        return [str(root)] if root.suffix.lower() in IMAGE_EXTENSIONS else []
    return sorted(str(p) for p in root.rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS
                  and (p.is_file() or (p.is_symlink() and not p.exists())))


def _samples_folder(split: str) -> Path:
    if split not in ("train", "val"):
        raise UserError(f"source: samples:{split} is unknown; use samples or samples:val")
    return SAMPLES_DIR / split


# Mean chroma per file this process has scanned, keyed by path and (size, mtime): opening
# the same folder again (a resumed fit, the val split at each validation, a notebook's
# second run) decodes only new or changed files. ~1.4 s per opening of the samples.
_SCANNED: dict[str, tuple[tuple[int, int], float]] = {}


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # a dangling link: decoded (and failed) every time
    return st.st_size, st.st_mtime_ns


def scan_files(paths: list[str], min_chroma: float) -> tuple[list[str], int, int]:
    """Decodes each file this process has not scanned as it is now (in parallel) and sorts
    them all out.

    Returns (usable paths in input order, number unreadable, number grayscale).
    Grayscale means mean Lab chroma < min_chroma; min_chroma <= 0 keeps them all.
    """
    if not paths:
        return [], 0, 0

    def probe(index, path):
        image = tf.image.resize(decode.load_file(path, _SCAN_SIDE), [_SCAN_SIDE, _SCAN_SIDE])
        return index, color.mean_chroma(color.rgb_to_lab(image))

    start = time.time()
    stamps = [_stamp(p) for p in paths]
    chroma = {i: _SCANNED[p][1] for i, (p, st) in enumerate(zip(paths, stamps))
              if st is not None and _SCANNED.get(p, (None,))[0] == st}
    todo = [i for i in range(len(paths)) if i not in chroma]
    if todo:
        ds = tf.data.Dataset.from_tensor_slices((tf.constant(todo, tf.int32),
                                                 tf.constant([paths[i] for i in todo])))
        ds = ds.map(sources.plain(probe), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.ignore_errors().batch(256)
        for indices, values in ds.as_numpy_iterator():
            for i, c in zip(indices, values):
                chroma[int(i)] = float(c)
                if stamps[i] is not None:
                    _SCANNED[paths[i]] = (stamps[i], float(c))
    ok = sorted(i for i, c in chroma.items() if c >= min_chroma)
    gray = len(chroma) - len(ok)
    unreadable = len(paths) - len(chroma)
    logging.info("scanned %d files in %.1fs (%d known): %d usable, %d unreadable, %d grayscale",
                 len(paths), time.time() - start, len(paths) - len(todo), len(ok), unreadable,
                 gray)
    return [paths[i] for i in ok], unreadable, gray


def open_folder(spec: str, *, min_chroma: float = 3.0) -> FolderSource:
    """A folder, `samples` or `samples:val` -> FolderSource of its usable photos.

    Raises UserError (one line) for a missing path, a remote one, or no usable image.
    """
    if spec == "samples" or spec.startswith("samples:"):
        folder = _samples_folder(spec.partition(":")[2] or "train")
    elif fileio.is_remote(spec):  # folders are walked with pathlib, which cannot read gs://
        raise UserError(f"source={spec}: image folders must be local; for gs:// write "
                        "TFRecords (make_tfrecords.py) and use source='tfrecord:gs://.../train-*'")
    else:
        folder = Path(spec).expanduser()
        if not folder.exists():
            raise UserError(f"source: {folder} does not exist")
    files = list_image_files(folder)
    if not files:
        raise UserError(f"source: no image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    usable, unreadable, gray = scan_files(files, min_chroma)
    if unreadable or gray:
        logging.warning("%s: skipped %d unreadable and %d grayscale of %d files",
                        folder, unreadable, gray, len(files))
    if not usable:
        raise UserError(f"source: no usable colour image under {folder} "
                        f"({unreadable} unreadable, {gray} grayscale of {len(files)} files)")
    return FolderSource(spec=spec, paths=tuple(usable), skipped_unreadable=unreadable,
                        skipped_grayscale=gray)
