"""Colorize files: photos, videos and frame folders -> an output folder (or beside them).

Inputs are files, folders (recursive) and globs; one bad file does not stop the rest;
outputs never overwrite an input or each other, and each is published whole (fileio).
Photos stream through the model (stream.py); a manifest in the output folder (manifest.py)
lets a rerun continue where a crash, a kill or Ctrl-C stopped one.
The photos and the output folder are local files (pathlib); the model may be remote.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from absl import logging

from colorgan import config, fileio, modelpath, workdir
from colorgan.data import folders
from colorgan.errors import UserError, first_line
from colorgan.progress import Progress
from colorgan.archive import manifest as manifest_lib
from colorgan.archive import stream
from colorgan.serve import stages
from colorgan.serve.opener import ColorizeFn, require_hints, require_reference
from colorgan.video import container, film

SUFFIX = "_colorized"  # outputs beside their inputs, and outputs that would hit an input


def expand_inputs(specs: list[str], frame_folders: bool = False, leave_out: Path | None = None
                  ) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files, folders (recursive) and globs -> ([(input, output path relative to out dir)], problems).

    Inputs are photos and videos (video.VIDEO_EXTENSIONS); with `frame_folders` each
    folder is one input instead, the numbered frames of a video. One folder maps onto the
    output folder itself (out/x.png); with several inputs each folder's tree goes under the
    folder's own name (a/x.png -> out/a/x.png, b/x.png -> out/b/x.png), so photos of the
    same name in different folders keep apart. `leave_out` (the output folder, resolved):
    files under it are left out of a folder's walk where it lies inside that folder (earlier
    outputs would come back as inputs); files named or globbed are kept, and where the output
    folder is the walked folder itself (or holds it) the manifest tells outputs apart.
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
            walked = [(f, base / f.relative_to(m)) for f in map(Path, sorted(files))]
            if leave_out and not m.resolve().is_relative_to(leave_out):
                kept = [(f, r) for f, r in walked if not f.resolve().is_relative_to(leave_out)]
                if len(kept) < len(walked):
                    logging.info("left out %d file(s) of %s inside the output folder %s",
                                 len(walked) - len(kept), m, leave_out)
                walked = kept
            found += walked
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
    written: list[Path]  # in the order of the inputs (the threads finish them in any)
    failed: list[tuple[str, str]]  # (input, reason)
    sources: list[Path] = field(default_factory=list)  # the input of each written
    kept: int = 0  # outputs an earlier run wrote (the manifest's), not written again
    manifest: Path | None = None

    def pairs(self) -> list[tuple[Path, Path]]:
        """(input, colorized output) for every photo written."""
        return list(zip(self.sources, self.written))


@dataclass(frozen=True)
class TreeConfig:
    """How a tree of photos streams through the model (archive/stream.py).

    threads: reader and writer threads around the model (decode, lightness; finish, encode,
    write). batch: photos per generator call; 1 is the fastest on CPUs and the only size
    whose output bytes do not depend on which photos share a call (docs/notes/archives.md).
    manifest: the resume record's path; "auto" = OUT/colorgan_manifest.jsonl when there is
    an output folder (none beside the inputs; colorize.py's default), "" = none.
    overwrite: redo an input the manifest says was written with other settings (without it
    such an input is refused, before anything is written).
    """
    threads: int = 2
    batch: int = 1
    manifest: str = ""
    overwrite: bool = False


def colorize_files(model: ColorizeFn, specs: list[str], output_dir: str | os.PathLike | None,
                   fmt: str = "png", render_size: int = 0, *,
                   temporal: config.TemporalConfig = config.TemporalConfig(),
                   frame_folders: bool = False, batch_size: int = 8,
                   points: list | None = None, references: Sequence[np.ndarray] = (),
                   tree: TreeConfig = TreeConfig(), settings: dict | None = None) -> Report:
    """Colorizes every photo and video the specs name into output_dir (None or "": beside
    each input, as NAME_colorized.FMT), keeping relative paths; one bad file does not stop
    the rest. Videos become H.264 .mp4 (.mkv where their audio needs it) with `temporal`
    steadying the colour; with `frame_folders` each folder is a video's numbered frames,
    colorized into a folder of the same frame names. Photos and frames are written as fmt.
    `points` (hints.read_points) are colour hints for every photo: a hint model only.
    `references` (RGB [h, w, 3] in [0, 1], serve/exemplar.read_many) give every photo, and
    every shot of a video, colour where its content matches the one it matches best (the
    hints win where they are): a VGG16-encoder model only.

    Photos stream through the model as `tree` says. With a manifest (manifest.py) a rerun
    keeps what an earlier run finished with the same settings (the model (model_identity),
    the output folder, fmt, render_size, points, references and `settings`, the caller's
    other options: post-processing, ...) and does the rest. One folder may hold outputs of
    runs with other settings; an input already written with other settings is refused
    (UserError, before anything is written) unless tree.overwrite, which redoes it. No new
    output takes the name of another input's recorded output. Files under the output
    folder are not inputs (expand_inputs' leave_out). Raises UserError on a full disk, and
    lets KeyboardInterrupt through, after recording what was finished.
    """
    if points:
        require_hints(model)
    if references:
        require_reference(model, len(references))
    if fmt not in ("png", "jpg"):
        raise UserError(f"fmt={fmt!r}: choose png or jpg")
    if output_dir and fileio.is_remote(output_dir):  # pathlib would make gs://b/x "gs:/b/x"
        raise UserError(f"output_dir={output_dir}: colorize.py writes to a local folder; "
                        "copy the results up afterwards (gsutil cp -r)")
    if tree.threads < 1 or tree.batch < 1:
        raise UserError(f"threads={tree.threads}, batch={tree.batch}: both must be >= 1")
    inputs, problems = expand_inputs(specs, frame_folders,
                                     Path(output_dir).resolve() if output_dir else None)
    inputs = [(p, r) for p, r in inputs if not _PARTIAL.match(p.name)]  # a killed run's
    failed = [(p.split(":")[0], "no such file or folder") for p in problems]
    if not inputs and not failed:
        raise UserError(f"no image or video files in {' '.join(specs)}")
    if not output_dir:  # beside the inputs: earlier outputs are not inputs of this run
        inputs = [(p, r) for p, r in inputs if not p.stem.endswith(SUFFIX)]
    manifest_path = tree.manifest
    if manifest_path == "auto":
        manifest_path = str(Path(output_dir) / manifest_lib.NAME) if output_dir else ""
    manifest = None
    try:
        if manifest_path:
            settings = {"model": model_identity(model),
                        "output_dir": _key(Path(output_dir)) if output_dir else "",
                        "fmt": fmt, "render_size": render_size, "points": points,
                        # only when given: a manifest from before references still matches
                        **({"reference": ",".join(map(_pixels_hash, references))}
                           if references else {}),
                        "frame_folders": frame_folders, **(settings or {})}
            manifest = manifest_lib.Manifest(manifest_path, settings)
            # Outputs of earlier runs are no inputs (an output folder among the inputs),
            # planned ones too: a kill between publishing and recording leaves such a file.
            outputs = manifest.outputs()
            inputs = [(p, r) for p, r in inputs if _key(p) not in outputs]
            if not tree.overwrite:
                _refuse_other_settings(manifest, inputs)
        return _colorize(model, inputs, failed, manifest, output_dir, fmt, render_size,
                         temporal, frame_folders, batch_size, points, references, tree)
    except Exception as e:  # noqa: BLE001  the manifest's own writes, a video's: a full disk
        if isinstance(e, UserError) or not disk_full(e):
            raise
        raise UserError(f"disk full: {e}; every output recorded is whole: free some space "
                        "and rerun to continue") from e
    finally:
        if manifest is not None:
            manifest.close()


def _refuse_other_settings(manifest, inputs) -> None:
    """UserError naming the first input an earlier run wrote with other settings (and how
    many more), before anything is written; nothing if there is none."""
    clashes = [(p, manifest.other(_key(p))) for p, _ in inputs]
    clashes = [(p, record) for p, record in clashes if record]
    if not clashes:
        return
    path, record = clashes[0]
    more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
    raise UserError(f"{path}: already colorized into {record['output']} with other settings "
                    f"({manifest.changes(record)}){more}; rerun with --overwrite to redo it, "
                    "or choose another output folder")


def _pixels_hash(reference: np.ndarray) -> str:
    """What tells one reference photo from another for a manifest: its pixels' hash."""
    return hashlib.sha256(np.ascontiguousarray(reference, np.float32).tobytes()).hexdigest()[:16]


def model_identity(model) -> dict:
    """What tells one model from another for a manifest: its path, and the size and time
    of each of its files (a re-export or more training changes them), its scale and
    whether it restores. A model without a path (a test's function) is its type's name."""
    path = getattr(model, "path", None)
    return {"path": str(path) if path else type(model).__name__,
            "files": _fingerprint(str(path)) if path else "",
            "scale": int(getattr(model, "scale", 1)),
            "restores": bool(getattr(model, "restores", False))}


def _fingerprint(path: str) -> str:
    """A hash of (name, size, mtime) of the files at `path` (a file, a folder's tree, or a
    checkpoint prefix's files); "" for a remote path (its bucket's metadata is not read)."""
    if fileio.is_remote(path):
        return ""
    p = Path(path)
    if (p / workdir.CONFIG_FILE).is_file() and not modelpath.is_shipped_format(path):
        # a workdir: its latest checkpoint, not its logs
        p = Path(workdir.resolve_checkpoint(path)[0])  # or the outputs written inside it
    if p.is_dir():
        found = {q.relative_to(p).as_posix(): q for q in p.rglob("*") if q.is_file()}
    elif p.is_file():
        found = {p.name: p}
    else:  # a checkpoint prefix: ckpt-N.index, ckpt-N.data-...
        found = {q.name: q for q in p.parent.glob(glob.escape(p.name) + ".*")}
    digest = hashlib.sha1()
    for name in sorted(found):
        st = found[name].stat()
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode(
            "utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


def disk_full(e: BaseException) -> bool:
    """Whether `e`, or an error it was raised from, is a full disk (or quota)."""
    while e is not None:
        if isinstance(e, stream.DiskFull) or (isinstance(e, OSError) and e.errno in stream.FULL):
            return True
        e = e.__cause__ or e.__context__
    return False


def _colorize(model, inputs, failed, manifest, output_dir, fmt, render_size, temporal,
              frame_folders, batch_size, points, references, tree) -> Report:
    input_paths = {p.resolve() for p, _ in inputs}
    taken = set(input_paths)  # never overwrite an input, or another output of this run
    report = Report([], failed, manifest=manifest and manifest.path)
    kept, redone = set(), {}
    if manifest:  # first: no new name may take a kept output, or another input's
        keys = {_key(p) for p, _ in inputs}
        taken |= {Path(r["output"]).resolve() for r in manifest.records.values()
                  if r.get("output") and r["input"] not in keys}
    for path, _ in inputs if manifest else ():
        record = manifest.done(_key(path))
        if record:  # an earlier run wrote it with these settings, whole
            taken.add(Path(record["output"]).resolve())
            kept.add(path)
        elif record := manifest.other(_key(path)):  # tree.overwrite: redone
            redone[path] = Path(record["output"])
    report.kept = len(kept)
    photos, others = [], []
    for path, rel in inputs:
        if path in kept:
            continue
        kind = "frames" if path.is_dir() else "video" if container.is_video(path) else "photo"
        try:
            if kind != "photo" and points:
                raise UserError("hints are for photos; videos and frames are colorized "
                                "without them")
            out_fmt = {"frames": "", "video": None, "photo": fmt}[kind]
            if out_fmt is None:
                out_fmt = film.output_suffix(path)[1:]  # probes: a bad clip fails here
            target = _target(path, rel, output_dir, out_fmt, input_paths, taken, kind)
            if path in redone and redone[path].resolve() != target.resolve():
                logging.info("%s: written as %s; its earlier output %s (other settings) is "
                             "left as it is", path, target.name, redone[path])
        except Exception as e:  # noqa: BLE001  one bad file must not stop the batch
            _failed(report, manifest, path, first_line(e), 0.0)
            continue
        (photos if kind == "photo" else others).append((kind, path, target))
    if manifest:  # before any is written: a kill never leaves an output that reads as an input
        manifest.add_many([{"input": _key(p), "status": "planned", "output": _key(t)}
                           for _, p, t in photos + others])
    total = len(photos) + len(others)
    unit = "files" if others else "photos"
    if report.kept:
        logging.info("%d output(s) of an earlier run are whole and kept (%s)", report.kept,
                     manifest.path)
    progress = Progress(total, label="colorize ", unit=unit)
    try:
        _run(model, report, manifest, photos, others, progress, fmt, render_size, temporal,
             batch_size, points, references, tree)
    finally:
        progress.finish()  # ends a terminal's progress line before any message
    # In the inputs' order, not the order the threads finished them in.
    order = {path: i for i, (path, _) in enumerate(inputs)}
    pairs = sorted(zip(report.sources, report.written), key=lambda pair: order[pair[0]])
    report.sources, report.written = [s for s, _ in pairs], [w for _, w in pairs]
    return report


def _run(model, report, manifest, photos, others, progress, fmt, render_size, temporal,
         batch_size, points, references, tree) -> None:
    _remove_partials([t for _, _, t in photos])

    def outcome(o: stream.Outcome) -> None:
        if o.ok:
            _done(report, manifest, o.photo.path, o.photo.target, o.seconds, o.bytes, o.size)
        else:
            _failed(report, manifest, o.photo.path, o.reason, o.seconds)
        progress.update(o.photo.path.name)

    stages_ = stages.of(model, render_size, points, references)
    try:
        stream.run(stages_, (stream.Photo(p, t) for _, p, t in photos), fmt,
                   threads=tree.threads, batch=tree.batch, on_outcome=outcome)
    except (stream.DiskFull, OSError) as e:  # OSError: the manifest's own append
        if not disk_full(e):
            raise
        raise UserError(f"disk full: {e}; {len(report.written)} output(s) of this run are "
                        "whole and recorded: free some space and rerun to continue") from e
    for kind, path, target in others:
        start = time.perf_counter()
        try:
            if kind == "video":
                film.colorize_video(model, path, target, render_size=render_size,
                                    temporal=temporal, batch_size=batch_size,
                                    references=references)
            else:
                film.colorize_frames(model, path, target, fmt=fmt, render_size=render_size,
                                     temporal=temporal, batch_size=batch_size,
                                     references=references)
            _done(report, manifest, path, target, time.perf_counter() - start,
                  _size_of(target), None)
        except Exception as e:  # noqa: BLE001  one bad file must not stop the batch
            if disk_full(e):  # nor may it go on: every later one would fail the same way
                raise
            _failed(report, manifest, path, first_line(e), time.perf_counter() - start)
        progress.update(path.name)


def plan_photos(specs: list[str], output_dir: str, fmt: str) -> list[tuple[str, str]]:
    """Local photos the specs name -> [(input, output)], absolute, named as colorize_files
    names them in a run of its own (the Beam pipeline's plan). An output folder that is an
    input folder (or holds one) is refused: without a manifest, earlier outputs would come
    back as inputs."""
    out = Path(output_dir).resolve()
    folders_ = [Path(s).resolve() for s in specs if not glob.has_magic(s) and Path(s).is_dir()]
    if any(f.is_relative_to(out) for f in folders_):
        raise UserError(f"output_dir={output_dir}: an input folder lies in it; choose one "
                        "outside the inputs")
    inputs, problems = expand_inputs(specs, leave_out=out)
    if problems:
        raise UserError(problems[0])
    inputs = [(p, r) for p, r in inputs
              if not _PARTIAL.match(p.name) and not p.is_dir() and not container.is_video(p)]
    paths = {p.resolve() for p, _ in inputs}
    taken = set(paths)
    return [(_key(p), _key(_target(p, r, output_dir, fmt, paths, taken, "photo")))
            for p, r in inputs]


def _target(path, rel, output_dir, out_fmt, input_paths, taken, kind) -> Path:
    names = _output_names(path, rel, output_dir, out_fmt, input_paths)
    first = target = next(names)
    # A folder of frames never replaces an existing folder (a file would be replaced).
    while target.resolve() in taken or (kind == "frames" and target.exists()):
        target = next(names)
    if target != first:
        logging.info("%s: %s is taken, writing %s instead", path, first, target.name)
    taken.add(target.resolve())
    return target


def _key(path: Path) -> str:
    """An input's or output's name in the manifest: absolute, links not followed (two
    dangling links to one missing file are two inputs)."""
    return os.path.abspath(path)


def _size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _done(report, manifest, path, target, seconds, nbytes, size) -> None:
    report.written.append(target)
    report.sources.append(path)
    if manifest:
        record = {"input": _key(path), "status": "done",
                  "output": _key(target), "bytes": nbytes,
                  "seconds": round(seconds, 3)}
        if size:
            record["size"] = list(size)
        manifest.add(record)


def _failed(report, manifest, path, reason, seconds) -> None:
    reason = reason.removeprefix(f"{path}: ")  # the report names the file
    report.failed.append((str(path), reason))
    logging.warning("skipped %s: %s", path, reason)
    if manifest:
        manifest.add({"input": _key(path), "status": "failed", "reason": reason,
                      "seconds": round(seconds, 3)})


# fileio.publishing's temporary name for TARGET = STEM.EXT: .STEM-XXXXXXXX.EXT (mkstemp's 8).
_PARTIAL = re.compile(r"^\.(?P<stem>.+)-[a-z0-9_]{8}(?P<ext>\.[^.]+)$")


def _remove_partials(targets: list[Path]) -> None:
    """Removes the half-written outputs a killed run left (publishing's temporary files) for
    the photos about to be written; nothing else is touched."""
    wanted: dict[Path, set[str]] = {}
    for t in targets:
        wanted.setdefault(t.parent, set()).add(t.name)
    removed = 0
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            m = _PARTIAL.match(entry.name)
            if m and f"{m['stem']}{m['ext']}" in names and entry.is_file():
                os.remove(entry.path)
                removed += 1
    if removed:
        logging.info("removed %d half-written output(s) of an interrupted run", removed)
