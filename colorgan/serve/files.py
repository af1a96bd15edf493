"""Colorize files: photos, videos and frame folders -> an output folder (or beside them).

Inputs are files, folders (recursive) and globs; one bad file does not stop the rest;
outputs never overwrite an input or each other, and each is published whole (fileio).
The photos and the output folder are local files (pathlib); the model may be remote.
"""

from __future__ import annotations

import glob
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from absl import logging

from colorgan import config, fileio
from colorgan.data import folders
from colorgan.data.imagefiles import read_image, write_image
from colorgan.errors import UserError, first_line
from colorgan.progress import Progress
from colorgan.serve.opener import ColorizeFn, require_hints
from colorgan.video import container, film

SUFFIX = "_colorized"  # outputs beside their inputs, and outputs that would hit an input


def expand_inputs(specs: list[str], frame_folders: bool = False
                  ) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files, folders (recursive) and globs -> ([(input, output path relative to out dir)], problems).

    Inputs are photos and videos (video.VIDEO_EXTENSIONS); with `frame_folders` each
    folder is one input instead, the numbered frames of a video. One folder maps onto the
    output folder itself (out/x.png); with several inputs each folder's tree goes under the
    folder's own name (a/x.png -> out/a/x.png, b/x.png -> out/b/x.png), so photos of the
    same name in different folders keep apart.
    """
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
            files = folders.list_image_files(m) + [
                str(p) for p in m.rglob("*") if container.is_video(p) and p.is_file()]
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
                        unit="files" if any(container.is_video(p) or p.is_dir() for p, _ in inputs)
                        else "img")
    for path, rel in inputs:
        try:
            kind = "frames" if path.is_dir() else "video" if container.is_video(path) else "photo"
            out_fmt = {"frames": "", "video": None, "photo": fmt}[kind]
            if kind != "photo" and points:
                raise UserError("hints are for photos; videos and frames are colorized "
                                "without them")
            if out_fmt is None:
                out_fmt = film.output_suffix(path)[1:]  # probes: a bad clip fails here
            names = _output_names(path, rel, output_dir, out_fmt, input_paths)
            first = target = next(names)
            # A folder of frames never replaces an existing folder (a file would be replaced).
            while target.resolve() in taken or (kind == "frames" and target.exists()):
                target = next(names)
            if target != first:
                logging.info("%s: %s is taken, writing %s instead", path, first, target.name)
            taken.add(target.resolve())
            if kind == "video":
                film.colorize_video(model, path, target, render_size=render_size,
                                    temporal=temporal, batch_size=batch_size)
            elif kind == "frames":
                film.colorize_frames(model, path, target, fmt=fmt, render_size=render_size,
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
