"""The training workdir's layout, shared by training (writes) and serving (reads).

  config.json          the Config the run was started with
  checkpoints/ckpt-N   the train state at step N
  tb/                  TensorBoard logs
  sample_sheet.png     gray | colorized | truth at the end of training
  best/ckpt-N          the generator at the best validation score (keep_best), best.json

A workdir may be remote (gs://bucket/run): every path here is a str, read through fileio.
"""

from __future__ import annotations

import json

import tensorflow as tf

from colorgan import config, fileio
from colorgan.errors import UserError

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best"


def read_config(workdir: fileio.PathLike) -> config.Config:
    path = fileio.join(workdir, CONFIG_FILE)
    if not fileio.isfile(path):
        raise UserError(f"{workdir} is not a colorgan workdir (no {CONFIG_FILE})")
    return parse_config(path)


def parse_config(path: fileio.PathLike) -> config.Config:
    """A Config JSON file; a damaged one is a UserError naming it."""
    try:
        return config.from_dict(json.loads(fileio.read_text(path)))
    except (ValueError, TypeError, AttributeError) as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e})") from None


def resolve_checkpoint(path: fileio.PathLike, which: str = "latest") -> tuple[str, str]:
    """A workdir or a checkpoint prefix (…/checkpoints/ckpt-N, …/best/ckpt-N) ->
    (checkpoint prefix, workdir). For a workdir, which = "latest" or "best" (the generator
    kept by keep_best)."""
    path = fileio.fspath(path)
    if fileio.isfile(fileio.join(path, CONFIG_FILE)):
        folder = {"latest": CHECKPOINT_DIR, "best": BEST_DIR}[which]
        prefix = tf.train.latest_checkpoint(fileio.join(path, folder))
        if prefix is None:
            raise UserError(f"{path} has no checkpoint yet (train first)" if which == "latest"
                            else f"{path} has no best checkpoint (train with keep_best and "
                                 "eval_every set)")
        return prefix, path
    if fileio.isfile(path + ".index"):
        return path, fileio.dirname(fileio.dirname(path))
    raise UserError(f"{path} is neither a workdir nor a checkpoint (…/checkpoints/ckpt-N)")
