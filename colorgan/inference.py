"""Colorize image files with an exported SavedModel or a training workdir.

Images are read with Pillow so that EXIF orientation is honoured (TensorFlow's
decoders ignore it), colorized at their own size, and written atomically. The photos
and the output folder are local files (pathlib); the model may be remote (gs://...).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import data, fileio
from colorgan.errors import UserError
from colorgan.progress import Progress

ColorizeFn = Callable[[np.ndarray, int], np.ndarray]
SUFFIX = "_colorized"  # outputs beside their inputs, and outputs that would hit an input


def find_saved_model(path: fileio.PathLike) -> str | None:
    """A SavedModel folder, or a TF Serving base path (its highest numeric version).

    saved_model.pb is the last file a save writes: a folder without it is no model (yet).
    """
    path = fileio.fspath(path)
    if fileio.isfile(fileio.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(name) for name in fileio.listdir(path) if name.isdigit()
                      and fileio.isfile(fileio.join(path, name, "saved_model.pb")))
    return fileio.join(path, str(versions[-1])) if versions else None


def open_model(path: fileio.PathLike) -> ColorizeFn:
    """Returns fn(images [1, H, W, C] float32 in [0, 1], render_size) -> RGB [1, H, W, 3].

    `path` is a SavedModel (or export base path) from export.py, a training workdir /
    checkpoint, or "pretrained" (the model shipped in colorgan); for the last two the graph
    is built in memory exactly as export does.
    """
    from colorgan import pretrained
    path = pretrained.resolve(path)
    if not fileio.exists(path) and not fileio.exists(path + ".index"):
        raise UserError(f"--model: {path} does not exist")
    saved = find_saved_model(path)
    if saved is not None:
        module = tf.saved_model.load(saved)
        logging.info("loaded SavedModel %s", saved)
    else:
        from colorgan import serving
        module = serving.make_colorizer(path)
    return lambda images, render_size: module.colorize_at(
        tf.constant(images, tf.float32), tf.constant(render_size, tf.int32)).numpy()


def expand_inputs(specs: list[str]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files, folders (recursive) and globs -> ([(file, output path relative to out dir)], problems)."""
    found: list[tuple[Path, Path]] = []
    problems = []
    for spec in specs:
        matches = [Path(p) for p in sorted(glob.glob(spec, recursive=True))] \
            if glob.has_magic(spec) else [Path(spec)]
        if not matches or not matches[0].exists():
            problems.append(f"{spec}: no such file or folder")
            continue
        for m in matches:
            if m.is_dir():
                files = [Path(p) for p in data.list_image_files(m)]
                found += [(f, f.relative_to(m)) for f in files]
            elif m.is_file():
                found.append((m, Path(m.name)))
    return found, problems


def read_image(path: Path) -> np.ndarray:
    """File -> float32 [H, W, C] in [0, 1], C = 1 for grayscale, else 3; EXIF-rotated."""
    from PIL import Image, ImageOps
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im = im.convert("L" if im.mode in ("L", "I;16", "I", "1") else "RGB")
        array = np.asarray(im, np.float32) / 255.0
    return array[..., None] if array.ndim == 2 else array


def write_image(array: np.ndarray, path: Path, fmt: str) -> None:
    """RGB float [H, W, 3] in [0, 1] -> PNG or JPEG file, via a temporary name."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "png":
        image.save(tmp, format="PNG")
    else:
        image.save(tmp, format="JPEG", quality=95)
    tmp.replace(path)


@dataclass
class Report:
    written: list[Path]
    failed: list[tuple[str, str]]  # (input, reason)
    sources: list[Path] = field(default_factory=list)  # the input of each written

    def pairs(self) -> list[tuple[Path, Path]]:
        """(input, colorized output) for every photo written."""
        return list(zip(self.sources, self.written))


def colorize_files(model: ColorizeFn, specs: list[str], output_dir: str | os.PathLike | None,
                   fmt: str = "png", render_size: int = 0) -> Report:
    """Colorizes every image the specs name into output_dir (None or "": beside each input,
    as NAME_colorized.FMT), keeping relative paths; one bad file does not stop the rest."""
    if fmt not in ("png", "jpg"):
        raise UserError(f"--format={fmt!r}: choose png or jpg")
    if output_dir and fileio.is_remote(output_dir):  # pathlib would make gs://b/x "gs:/b/x"
        raise UserError(f"--output_dir={output_dir}: colorize.py writes to a local folder; "
                        "copy the results up afterwards (gsutil cp -r)")
    inputs, problems = expand_inputs(specs)
    failed = [(p.split(":")[0], "no such file or folder") for p in problems]
    if not inputs and not failed:
        raise UserError(f"no image files in {' '.join(specs)}")
    if not output_dir:  # beside the inputs: earlier outputs are not inputs of this run
        inputs = [(p, r) for p, r in inputs if not p.stem.endswith(SUFFIX)]
    input_paths = {p.resolve() for p, _ in inputs}
    taken: set[Path] = set()
    written, sources = [], []
    progress = Progress(len(inputs), label="colorize ")
    for path, rel in inputs:
        if output_dir:
            target = Path(output_dir) / rel.with_suffix("." + fmt)
        else:  # beside the input
            target = path.with_name(f"{path.stem}{SUFFIX}.{fmt}")
        if target.resolve() in taken:  # a.jpg and a.png in one folder
            target = target.with_name(f"{path.stem}_{path.suffix[1:]}{SUFFIX}.{fmt}")
        taken.add(target.resolve())
        if target.resolve() in input_paths:  # never overwrite an input
            target = target.with_name(f"{target.stem}{SUFFIX}.{fmt}")
        try:
            image = read_image(path)
            rgb = model(image[None], render_size)[0]
            write_image(rgb, target, fmt)
            written.append(target)
            sources.append(path)
        except Exception as e:  # one bad file must not stop the batch
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            failed.append((str(path), reason))
            logging.warning("skipped %s: %s", path, reason)
        progress.update(path.name)
    return Report(written, failed, sources)
