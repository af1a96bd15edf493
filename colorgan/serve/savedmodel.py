"""Export a Colorizer for TF Serving: EXPORT_DIR/<version>/ (a SavedModel, or a .tflite
through litert.writer), never overwriting, published whole (fileio.publishing).

Beside the SavedModel, in assets.extra/ (a folder TF Serving ignores): the post-processing
the export bakes in (RENDER_FILE) and, for --init_from=EXPORT_DIR, the run's Config.
Export folders may be remote (gs://...): every path goes through fileio.
"""

from __future__ import annotations

import json

import tensorflow as tf
from absl import logging

from colorgan import config, fileio
from colorgan.errors import UserError
from colorgan.models import networks, pretrained
from colorgan.serve.graph import Colorizer

RENDER_FILE = "assets.extra/colorgan_render.json"  # the export's RenderConfig.post_processing()


def exported_post_processing(saved_model: str) -> dict:
    """The post-processing an export bakes in (exports older than the file had none)."""
    path = fileio.join(saved_model, RENDER_FILE)
    if not fileio.isfile(path):  # and none of the settings added since
        return {**config.RAW.post_processing(), **config.ADDED_SINCE}
    return config.RenderConfig.baked(json.loads(fileio.read_text(path)), path)


def next_version(export_dir: fileio.PathLike) -> int:
    """TF Serving serves the highest numeric subfolder; a new export takes the next number."""
    return max(fileio.versions(export_dir), default=0) + 1


def export(colorizer: Colorizer, export_dir: fileio.PathLike, version: int | None = None,
           writer=None) -> str:
    """Writes EXPORT_DIR/<version>/ (TF Serving's layout); never overwrites. Returns its path.

    `writer(colorizer, folder)` writes the model files (default: the SavedModel;
    litert.writer(quantize) for a .tflite).

    Local disk: written beside the target and renamed, so TF Serving never sees half an
    export. Remote (gs://...): written in place, our config first, since a folder rename
    there is a copy of every object (and on ram:// it leaves the files behind);
    tf.saved_model.save writes saved_model.pb last, as the sign that the export is whole.
    """
    export_dir = fileio.fspath(export_dir)
    fileio.makedirs(export_dir)
    version = version if version is not None else next_version(export_dir)
    target = fileio.join(export_dir, str(version))
    if fileio.exists(target):
        raise UserError(f"{target} exists; pick another version or leave it out")
    writer = writer or _write_export
    # One format per base path: TF Serving would try to load a .tflite version, and
    # colorize.py reads the highest version of either.
    marker = getattr(writer, "marker", "saved_model.pb")
    other = [v for v in fileio.versions(export_dir)
             if not fileio.exists(fileio.join(export_dir, str(v), marker))]
    if other:
        raise UserError(f"export_dir={export_dir}: version {other[-1]} is another format "
                        f"(no {marker}); export to another folder")
    with fileio.publishing(target, folder=True) as folder:
        writer(colorizer, folder)
    logging.info("exported %s", target)
    return target


def write_render_file(colorizer: Colorizer, path: str, **extra) -> None:
    """The post-processing a model bakes in (plus `extra`), as JSON at `path`."""
    fileio.makedirs(fileio.dirname(path))
    fileio.write_text_atomic(path, json.dumps({**colorizer.post_processing, **extra},
                                              indent=2) + "\n")


def _write_export(colorizer: Colorizer, path: str) -> None:
    """The SavedModel and, in assets.extra/ (TF Serving ignores it), the post-processing it
    bakes in and, for --init_from=EXPORT_DIR, the Config."""
    write_render_file(colorizer, fileio.join(path, RENDER_FILE))
    if colorizer.cfg is not None:
        fileio.write_text_atomic(fileio.join(path, pretrained.EXPORT_CONFIG),
                                 colorizer.cfg.to_json())
    signatures = {"serving_default": colorizer.serve_bytes,
                  "serving_jpeg": colorizer.serve_jpeg,
                  "colorize": colorizer.colorize}
    if networks.takes_hints(colorizer.generator):
        signatures["serving_hints"] = colorizer.serve_hints
    if colorizer.matches:
        signatures["serving_reference"] = colorizer.serve_reference
    tf.saved_model.save(colorizer, path, signatures=signatures)
