"""Colorize image files with an exported SavedModel or a training workdir.

Images are read with Pillow so that EXIF orientation is honoured (TensorFlow's
decoders ignore it), colorized at their own size, and written atomically. The photos
and the output folder are local files (pathlib); the model may be remote (gs://...).
"""

from __future__ import annotations

import glob
import io
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import config, data, fileio
from colorgan.errors import UserError, first_line
from colorgan.progress import Progress

ColorizeFn = Callable[[np.ndarray, int], np.ndarray]
SUFFIX = "_colorized"  # outputs beside their inputs, and outputs that would hit an input


def find_saved_model(path: fileio.PathLike) -> str | None:
    """A SavedModel folder, or a TF Serving base path (its highest numeric version).

    saved_model.pb is the last file a save writes: a folder without it is no model (yet).
    """
    return fileio.latest_with(path, "saved_model.pb")


def open_model(path: fileio.PathLike, post_processing: dict | None = None,
               render_size: int = 0) -> ColorizeFn:
    """Returns fn(images [1, H, W, C] float32 in [0, 1], render_size) -> RGB [1, H, W, 3].

    `path` is a SavedModel or LiteRT model (a .tflite, or an export base path) from
    export.py, a training workdir / checkpoint, or "pretrained" (the model shipped in
    colorgan); for the last two the graph is built in memory exactly as export does, with
    config.RenderConfig's defaults overridden by `post_processing` (e.g. {"flip": False}).
    An export keeps the post-processing it was exported with: asking it for other values
    is an error, not a silent change. `render_size` (0 = the model's) is checked here, once,
    against a LiteRT model's fixed size.
    """
    from colorgan import config, litert, pretrained
    post_processing = post_processing or {}
    path = pretrained.resolve(path)
    if not fileio.exists(path) and not fileio.exists(path + ".index"):
        raise UserError(f"model: {path} does not exist")
    lite, saved = litert.find(path), find_saved_model(path)
    if lite is not None:
        model = litert.LiteColorizer(lite)
        _check_baked(lite, model.post_processing, post_processing)
        model.check_render_size(render_size)
        logging.info("loaded LiteRT model %s", lite)
        return model.colorize_at
    if saved is not None:
        from colorgan import serving
        _check_baked(saved, serving.exported_post_processing(saved), post_processing)
        module = tf.saved_model.load(saved)
        logging.info("loaded SavedModel %s", saved)
    else:
        from colorgan import serving
        module = serving.make_colorizer(path, config.RenderConfig(**post_processing))
    return LoadedModel(module, path)


def require_hints(model) -> None:
    """UserError (one line) unless `model` takes colour hints."""
    if isinstance(model, LoadedModel):
        model.check_hints()
    else:  # a LiteRT model: one fixed input, L only
        raise UserError("hints: a .tflite model takes none; use a SavedModel, a workdir or "
                        "the shipped model")


class LoadedModel:
    """A SavedModel's or an in-memory Colorizer's functions as numpy calls.

    model(images, render_size): images float [B, H, W, C] in [0, 1] -> RGB [B, H, W, 3].
    """

    def __init__(self, module, path: str):
        self.module, self.path = module, path
        # Exports from before hints have no such variable: they take none.
        flag = getattr(module, "takes_hints", None)
        self.takes_hints = bool(flag.numpy()) if flag is not None else False

    def __call__(self, images: np.ndarray, render_size: int = 0) -> np.ndarray:
        return self.module.colorize_at(tf.constant(images, tf.float32),
                                       tf.constant(render_size, tf.int32)).numpy()

    def check_hints(self) -> None:
        if not self.takes_hints:
            raise UserError(f"hints: the model {self.path} has no hint channels (train one "
                            "with --hints)")

    def reveal(self, images: np.ndarray, render_size: int, count: int,
               seed: tuple[int, int]) -> np.ndarray:
        """`count` random patches of the images' own colour given as hints (evaluate.py)."""
        self.check_hints()
        return self.module.colorize_revealing(
            tf.constant(images, tf.float32), tf.constant(render_size, tf.int32),
            tf.constant(count, tf.int32), tf.constant(seed, tf.int32)).numpy()

    def with_points(self, image: np.ndarray, render_size: int, points: list[tuple]) -> np.ndarray:
        """One image [1, H, W, C] with user hints [(x, y, (r, g, b)), ...], x, y in [0, 1]
        and the colour in [0, 1]."""
        self.check_hints()
        x = np.array([p[0] for p in points], np.float32)
        y = np.array([p[1] for p in points], np.float32)
        rgb = np.array([p[2] for p in points], np.float32).reshape(-1, 3)
        return self.module.colorize_points(tf.constant(image, tf.float32),
                                           tf.constant(render_size, tf.int32),
                                           x, y, rgb).numpy()


def _check_baked(path: str, baked: dict, asked: dict) -> None:
    """Refuses post-processing values that differ from those an export bakes in."""
    from colorgan.config_flags import as_flags
    differ = {k: v for k, v in asked.items() if baked.get(k) != v}
    if differ:
        raise UserError(f"model: {path} was exported with {as_flags(baked)}; leave out "
                        f"{as_flags(differ)} or re-export it with export.py")


def expand_inputs(specs: list[str], frame_folders: bool = False
                  ) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files, folders (recursive) and globs -> ([(input, output path relative to out dir)], problems).

    Inputs are photos and videos (video.VIDEO_EXTENSIONS); with `frame_folders` each
    folder is one input instead, the numbered frames of a video. One folder maps onto the
    output folder itself (out/x.png); with several inputs each folder's tree goes under the
    folder's own name (a/x.png -> out/a/x.png, b/x.png -> out/b/x.png), so photos of the
    same name in different folders keep apart.
    """
    from colorgan import video
    matched: list[Path] = []
    problems = []
    for spec in specs:
        matches = [Path(p) for p in sorted(glob.glob(spec, recursive=True))] \
            if glob.has_magic(spec) else [Path(spec)]
        if not matches or not matches[0].exists():
            problems.append(f"{spec}: no such file or folder")
            continue
        matched += matches
    mirror = len(matched) > 1
    found: list[tuple[Path, Path]] = []
    for m in matched:
        if m.is_dir() and frame_folders:  # resolved: "." has no name to put _colorized on
            found.append((m.resolve(), Path(m.resolve().name)))
        elif m.is_dir():
            base = Path(m.resolve().name) if mirror else Path()
            files = data.list_image_files(m) + [
                str(p) for p in m.rglob("*") if video.is_video(p) and p.is_file()]
            found += [(f, base / f.relative_to(m)) for f in map(Path, sorted(files))]
        elif m.is_file():
            found.append((m, Path(m.name)))
    return found, problems


def _output_names(path: Path, rel: Path, output_dir: str | os.PathLike | None, fmt: str,
                  inputs: set[Path]) -> Iterator[Path]:
    """Output paths for input `path`, best first: the plain name, then for a name that an
    input holds NAME_colorized, for one another output took NAME_EXT (a.jpg and a.png),
    then NAME_2, NAME_3… fmt "" names a folder (a folder of frames)."""
    ext = path.suffix[1:].lower()
    dot = f".{fmt}" if fmt else ""
    if output_dir:
        first = Path(output_dir) / (rel.with_suffix(dot) if fmt else rel)
        alternatives = [f"{first.stem}{SUFFIX}" if first.resolve() in inputs else f"{first.stem}_{ext}"]
    else:
        first = path.with_name(f"{path.stem}{SUFFIX}{dot}")
        alternatives = [f"{path.stem}_{ext}{SUFFIX}"]
    yield first
    yield from (first.with_name(f"{stem}{dot}") for stem in alternatives if fmt)
    yield from (first.with_name(f"{first.stem}_{i}{dot}") for i in itertools.count(2))


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
    import io
    from PIL import Image
    try:
        with Image.open(io.BytesIO(encoded)) as im:
            return int(im.getexif().get(0x0112, 1))
    except Exception:  # Pillow cannot parse it: TF decides whether the image is readable
        return 1


def read_image(path: Path, max_pixels: int = data.DEFAULT_MAX_PIXELS) -> np.ndarray:
    """File -> float32 RGB [H, W, 3] in [0, 1], EXIF-rotated.

    Decoded by `data.decode_image`, the very decoder the exported serving graph runs, so
    a file gives the same pixels here as through TF Serving (16-bit PNGs keep their 16
    bits, bombs are refused from their header); only the EXIF rotation, which TF's
    decoders ignore, is applied here on top.
    """
    return decode_bytes(Path(path).read_bytes(), max_pixels)


def decode_bytes(encoded: bytes, max_pixels: int = data.DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> float32 RGB [H, W, 3] in [0, 1], EXIF-rotated (read_image's
    decoding, for bytes that come from elsewhere: the web app's uploads)."""
    image = data.decode_image(tf.constant(encoded), max_pixels=max_pixels).numpy()
    turn = _ORIENT.get(exif_orientation(encoded))
    return np.ascontiguousarray(turn(image)) if turn else image


def write_image(array: np.ndarray, path: Path, fmt: str) -> None:
    """RGB float [H, W, 3] in [0, 1] -> PNG or JPEG file, written atomically (fileio)."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))
    buf = io.BytesIO()
    if fmt == "png":
        image.save(buf, format="PNG")
    else:
        image.save(buf, format="JPEG", quality=95)
    fileio.write_bytes_atomic(path, buf.getvalue())


@dataclass
class Report:
    written: list[Path]
    failed: list[tuple[str, str]]  # (input, reason)
    sources: list[Path] = field(default_factory=list)  # the input of each written

    def pairs(self) -> list[tuple[Path, Path]]:
        """(input, colorized output) for every photo written."""
        return list(zip(self.sources, self.written))


def colorize_files(model: ColorizeFn, specs: list[str], output_dir: str | os.PathLike | None,
                   fmt: str = "png", render_size: int = 0, *,
                   temporal: config.TemporalConfig = config.TemporalConfig(),
                   frame_folders: bool = False, batch_size: int = 8,
                   points: list | None = None) -> Report:
    """Colorizes every photo and video the specs name into output_dir (None or "": beside
    each input, as NAME_colorized.FMT), keeping relative paths; one bad file does not stop
    the rest. Videos become H.264 .mp4 (.mkv where their audio needs it) with `temporal`
    steadying the colour; with `frame_folders` each folder is a video's numbered frames,
    colorized into a folder of the same frame names. Photos and frames are written as fmt.
    `points` (hints.read_points) are colour hints for every photo: a hint model only."""
    from colorgan import video, videocolor
    if points:
        require_hints(model)
    if fmt not in ("png", "jpg"):
        raise UserError(f"fmt={fmt!r}: choose png or jpg")
    if output_dir and fileio.is_remote(output_dir):  # pathlib would make gs://b/x "gs:/b/x"
        raise UserError(f"output_dir={output_dir}: colorize.py writes to a local folder; "
                        "copy the results up afterwards (gsutil cp -r)")
    inputs, problems = expand_inputs(specs, frame_folders)
    failed = [(p.split(":")[0], "no such file or folder") for p in problems]
    if not inputs and not failed:
        raise UserError(f"no image or video files in {' '.join(specs)}")
    if not output_dir:  # beside the inputs: earlier outputs are not inputs of this run
        inputs = [(p, r) for p, r in inputs if not p.stem.endswith(SUFFIX)]
    input_paths = {p.resolve() for p, _ in inputs}
    taken = set(input_paths)  # never overwrite an input, or another output of this run
    written, sources = [], []
    progress = Progress(len(inputs), label="colorize ",
                        unit="files" if any(video.is_video(p) or p.is_dir() for p, _ in inputs)
                        else "img")
    for path, rel in inputs:
        try:
            kind = "frames" if path.is_dir() else "video" if video.is_video(path) else "photo"
            out_fmt = {"frames": "", "video": None, "photo": fmt}[kind]
            if kind != "photo" and points:
                raise UserError("hints are for photos; videos and frames are colorized "
                                "without them")
            if out_fmt is None:
                out_fmt = videocolor.output_suffix(path)[1:]  # probes: a bad clip fails here
            names = _output_names(path, rel, output_dir, out_fmt, input_paths)
            first = target = next(names)
            # A folder of frames never replaces an existing folder (a file would be replaced).
            while target.resolve() in taken or (kind == "frames" and target.exists()):
                target = next(names)
            if target != first:
                logging.info("%s: %s is taken, writing %s instead", path, first, target.name)
            taken.add(target.resolve())
            if kind == "video":
                videocolor.colorize_video(model, path, target, render_size=render_size,
                                          temporal=temporal, batch_size=batch_size)
            elif kind == "frames":
                videocolor.colorize_frames(model, path, target, fmt=fmt, render_size=render_size,
                                           temporal=temporal, batch_size=batch_size)
            elif points:
                image = read_image(path)
                write_image(model.with_points(image[None], render_size, points)[0], target, fmt)
            else:
                image = read_image(path)
                rgb = model(image[None], render_size)[0]
                write_image(rgb, target, fmt)
            written.append(target)
            sources.append(path)
        except Exception as e:  # one bad file must not stop the batch
            reason = first_line(e).removeprefix(f"{path}: ")  # the report names the file
            failed.append((str(path), reason))
            logging.warning("skipped %s: %s", path, reason)
        progress.update(path.name)
    return Report(written, failed, sources)
