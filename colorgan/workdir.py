"""The training workdir's layout, shared by training (writes) and serving (reads).

  config.json          the Config the run was started with
  checkpoints/ckpt-N   the train state at step N
  tb/                  TensorBoard logs
  sample_sheet.png     gray | colorized | truth at the end of training
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from colorgan import config
from colorgan.errors import UserError

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


def read_config(workdir: str | Path) -> config.Config:
    path = Path(workdir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{workdir} is not a colorgan workdir (no {CONFIG_FILE})")
    return parse_config(path)


def parse_config(path: Path) -> config.Config:
    """A Config JSON file; a damaged one is a UserError naming it."""
    try:
        return config.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError) as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e})") from None


def resolve_checkpoint(path: str | Path) -> tuple[str, Path]:
    """A workdir or a checkpoint prefix (…/checkpoints/ckpt-N) -> (checkpoint prefix, workdir)."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        prefix = tf.train.latest_checkpoint(str(path / CHECKPOINT_DIR))
        if prefix is None:
            raise UserError(f"{path} has no checkpoint yet (train first)")
        return prefix, path
    if Path(str(path) + ".index").is_file():
        return str(path), path.parent.parent
    raise UserError(f"{path} is neither a workdir nor a checkpoint (…/checkpoints/ckpt-N)")
