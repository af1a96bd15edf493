"""Training workdirs for resume tests: a copy of a finished run, wound back to an earlier
checkpoint, stands for a run that stopped there (a kill, a time budget). Resuming it and
comparing with the finished run tests exact resume with two fits instead of three."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import tensorflow as tf
from google.protobuf import text_format


def rewound(workdir: str | Path, step: int, dest: str | Path) -> Path:
    """A copy of `workdir` at `dest` whose newest checkpoint is the one of step `step`
    (the run must have saved it: checkpoint_every dividing `step`). The rest is copied as
    it is (tb/, the sample sheet, best/): fit for runs without keep_best."""
    dest = Path(dest)
    shutil.copytree(workdir, dest)
    ckpts = dest / "checkpoints"
    state = tf.train.get_checkpoint_state(str(ckpts))
    # The manager's list pairs each path with its save time (a path without one is not
    # listed, so nothing would be restored): both lists are cut alike.
    pairs = list(zip(state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps))
    kept = [(p, t) for p, t in pairs if number(p) <= step]
    assert kept and number(kept[-1][0]) == step, f"{workdir} has no checkpoint of step {step}"
    for p, _ in pairs[len(kept):]:
        for part in ckpts.glob(Path(p).name + ".*"):
            part.unlink()
    del state.all_model_checkpoint_paths[:], state.all_model_checkpoint_timestamps[:]
    state.all_model_checkpoint_paths.extend(p for p, _ in kept)
    state.all_model_checkpoint_timestamps.extend(t for _, t in kept)
    state.model_checkpoint_path = kept[-1][0]
    (ckpts / "checkpoint").write_text(text_format.MessageToString(state))
    # What fit's CheckpointManager will restore: this step's checkpoint, and it exists.
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(), str(ckpts), max_to_keep=None)
    assert [number(p) for p in manager.checkpoints] == [number(p) for p, _ in kept]
    assert Path(manager.latest_checkpoint + ".index").is_file()
    return dest


def number(path: str) -> int:
    """ckpt-12 -> 12."""
    return int(re.fullmatch(r"ckpt-(\d+)", Path(path).name).group(1))
