"""What a model path names, decided in one place.

Every script, the web app, evaluation and `--init_from` take a model as a path; this module
says which kind it is, by the files it holds (nothing is loaded):

  shipped      "pretrained" (the colorizer inside colorgan) or a folder in its format:
               generator.npz + config.json (models/pretrained.py)
  workdir      a training workdir: config.json + checkpoints/ (workdir.py)
  checkpoint   a checkpoint prefix, …/checkpoints/ckpt-N or …/best/ckpt-N (X.index exists)
  saved_model  a SavedModel folder from export.py, or a TF Serving base path (its highest
               numeric version holding saved_model.pb)
  tflite       a .tflite file, a folder holding model.tflite, or a base path of such versions

serve/opener.py opens each kind for colorizing, models/pretrained.py reads its config and
weights. Paths may be remote (gs://...): every look goes through fileio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from colorgan import fileio, workdir
from colorgan.errors import MODEL_KINDS, UserError

PRETRAINED = "pretrained"  # the name of the colorizer shipped inside colorgan
SHIPPED = Path(__file__).resolve().parent / "weights" / "colorizer"
GENERATOR_FILE = "generator.npz"  # the shipped format's generator weights
SAVED_MODEL_FILE = "saved_model.pb"  # the last file a SavedModel save writes
TFLITE_FILE = "model.tflite"
KINDS = ("shipped", "workdir", "checkpoint", "saved_model", "tflite")


@dataclass(frozen=True)
class ModelPath:
    kind: str  # one of KINDS
    path: str  # the folder, checkpoint prefix, SavedModel version folder or .tflite file


def resolve(spec: fileio.PathLike) -> str:
    """"pretrained" -> the shipped model's folder; anything else is a path (maybe gs://)."""
    return str(SHIPPED) if str(spec) == PRETRAINED else fileio.fspath(spec)


def is_shipped_format(path: fileio.PathLike) -> bool:
    path = resolve(path)
    return (fileio.isfile(fileio.join(path, GENERATOR_FILE))
            and fileio.isfile(fileio.join(path, workdir.CONFIG_FILE)))


def find_saved_model(path: fileio.PathLike) -> str | None:
    """A SavedModel folder, or a TF Serving base path (its highest numeric version).

    saved_model.pb is the last file a save writes: a folder without it is no model (yet).
    """
    return fileio.latest_with(path, SAVED_MODEL_FILE)


def find_tflite(path: fileio.PathLike) -> str | None:
    """A .tflite file, a folder holding model.tflite, or an export base path (its highest
    version holding one) -> the .tflite's path; None when it is none of these."""
    path = fileio.fspath(path)
    if path.endswith(".tflite"):
        return path
    folder = fileio.latest_with(path, TFLITE_FILE)
    return fileio.join(folder, TFLITE_FILE) if folder else None


def identify(spec: fileio.PathLike, what: str = "model") -> ModelPath:
    """The kind of model `spec` names; a one-line UserError, starting with `what` (the flag
    that named it), for a path that does not exist or holds no colorgan model."""
    path = resolve(spec)
    if path.endswith(".tflite"):  # the file itself: the opener says if it is missing
        return ModelPath("tflite", path)
    if not fileio.exists(path) and not fileio.exists(path + ".index"):
        raise UserError(f"{what}: {path} does not exist {MODEL_KINDS}")
    if is_shipped_format(path):
        return ModelPath("shipped", path)
    if fileio.isfile(fileio.join(path, workdir.CONFIG_FILE)):
        return ModelPath("workdir", path)
    if fileio.isfile(path + ".index"):
        return ModelPath("checkpoint", path)
    lite = find_tflite(path)
    if lite is not None:
        return ModelPath("tflite", lite)
    saved = find_saved_model(path)
    if saved is not None:
        return ModelPath("saved_model", saved)
    raise UserError(f"{what}: {path} is not a colorgan model (no config.json, checkpoint, "
                    "SavedModel or .tflite)")
