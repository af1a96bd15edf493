"""The fit loop: data, state, strategy, train steps, checkpoints, validation, summaries.

The loop writes the workdir laid out in `colorgan/workdir.py` and resumes from it. The
workdir may be remote (gs://...): checkpoints, TensorBoard logs, config.json and the sheet
all go through tf.io.gfile (fileio).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import fileio
from colorgan.config import Config
from colorgan.data import input_pipeline, sources
from colorgan.errors import UserError, first_line
from colorgan.evaluate import sheets
from colorgan.models import networks, pretrained
from colorgan.train import distribute, loop, rebalance, validation
from colorgan.train.interrupts import StopRequest
from colorgan.train.train_state import TrainState, create_state
from colorgan.train.train_step import make_train_step
from colorgan.workdir import CHECKPOINT_DIR, CONFIG_FILE


def colour_weights(cfg: Config, source: sources.ImageSource, limit: int = 2000) -> tf.Tensor:
    """The L1 rebalancing weights from the ab histogram of (up to `limit`) training photos,
    centre crops at 64 px: the same on every run over the same data, resumes included."""
    counts = rebalance.ab_histogram(input_pipeline.eval_dataset(
        source, image_size=64, batch_size=64, limit=limit, color_space=cfg.model.color_space))
    table = rebalance.weights(counts, 1.0 - cfg.loss.rebalance)
    logging.info("colour rebalancing %.2f: L1 weights %.2f .. %.2f over %d colour bins",
                 cfg.loss.rebalance, table.min(), table.max(), int((counts > 0).sum()))
    return tf.constant(table)


# --------------------------------------------------------------------------- workdir

def _check_config(workdir: str, cfg: Config, write: bool = True) -> None:
    """Writes config.json (if `write`), or refuses to resume a workdir whose models differ."""
    path = fileio.join(workdir, CONFIG_FILE)
    if fileio.exists(path):
        old = json.loads(fileio.read_text(path))
        new = json.loads(cfg.to_json())
        # Fields added since that run was written count as their defaults.
        old_model = {**new["model"], **json.loads(Config().to_json())["model"],
                     **old.get("model", {})}
        if old_model != new["model"]:
            diff = {k: (old_model[k], v) for k, v in new["model"].items() if old_model[k] != v}
            raise UserError(f"workdir={workdir} holds a run with a different model config "
                            f"(was, now: {diff}); use a new workdir")
        # hints_only decides which variables have Adam slots in the checkpoint.
        was = old.get("train", {}).get("hints_only", False)
        if was != new["train"]["hints_only"]:
            raise UserError(f"workdir={workdir} was trained with hints_only={was}; use a new "
                            "workdir")
        for key in ("image_size", "size_schedule"):  # both decide the generator's depth
            if old["data"].get(key, "") != new["data"][key]:
                raise UserError(f"workdir={workdir} was trained with {key}="
                                f"{old['data'].get(key, '')!r}; use a new workdir")
    if write:
        fileio.write_text_atomic(path, cfg.to_json())


def _input_pipelines(source: sources.ImageSource, strategy: tf.distribute.Strategy) -> int:
    """How many input pipelines cut the stream differently: TFRecord shards are split by
    file between workers (`splits_by_pipeline`); files and TFDS are sliced per global
    batch, so any count is one."""
    if not source.splits_by_pipeline or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 1
    return max(distribute.cluster_tasks(), 1)


def _check_data_layout(state: TrainState, start: int, batch: int, pipelines: int,
                       workdir: str) -> None:
    """Records (global batch, input pipelines) in the state; refuses a resume with another:
    step k resumes the stream at element k x batch, which means another element for
    another batch, so the run would silently skip or repeat photos."""
    old = [int(x) for x in state.data_layout.numpy()]
    if start and any(old) and old != [batch, pipelines]:
        raise UserError(
            f"{workdir} was trained with a global batch of {old[0]}"
            f"{f' on {old[1]} input pipelines' if old[1] != 1 or pipelines != 1 else ''}, "
            f"now {batch}{f' on {pipelines}' if old[1] != 1 or pipelines != 1 else ''}: resuming "
            f"would shift the data stream. Use the same batch_size and replicas, or start a "
            f"new workdir with init_from={workdir}")
    state.data_layout.assign([batch, pipelines])


def _save(state: TrainState, manager: tf.train.CheckpointManager, step: int) -> None:
    """Saves a checkpoint of step `step`, after checking every weight is finite: a bad one
    must never replace (or, past max_to_keep, push out) the last good checkpoint."""
    if not state.all_finite():
        raise FloatingPointError(
            f"weights are not finite at step {step}; not saved. The last good checkpoint "
            f"is {manager.latest_checkpoint or 'none'}: lower the learning rates, or try "
            f"precision=fp32, and rerun to resume from it")
    manager.save(checkpoint_number=step)


def restore_latest(ckpt: tf.train.Checkpoint, manager: tf.train.CheckpointManager) -> str | None:
    """Restores the newest checkpoint that reads back; returns its path, or None if there is none.

    The checkpoint index is only published after a save completes, so a kill during
    a save leaves the previous one in place; this also falls back past a damaged file.
    Raises UserError when checkpoints exist but none reads back (never trains over them).
    """
    for path in reversed(manager.checkpoints):
        try:
            ckpt.restore(path).assert_existing_objects_matched()
            logging.info("restored %s", path)
            return path
        except Exception as e:  # damaged files raise OpError, IndexError, ValueError, ...
            logging.warning("cannot restore %s (%s: %s); trying an older checkpoint",
                            path, type(e).__name__, first_line(e))
    if manager.checkpoints:
        raise UserError(f"no checkpoint in {manager.directory} can be restored; "
                        "move that folder away to start afresh")
    return None


# ------------------------------------------------------------------------------ loop

@dataclasses.dataclass
class FitResult:
    step: int
    metrics: dict[str, float]
    stopped_by_signal: int | None
    sheet: str | None
    state: TrainState | None = None  # the trained models, for callers in the same process


def _colorize(generator: keras.Model, L: tf.Tensor) -> tf.Tensor:
    return networks.colorize(generator, L)  # a hint model: automatic (no hints)


def _write_images(writer, generator, eval_L, eval_ab, step: int, space: str) -> None:
    rows = sheets.columns(eval_L, _colorize(generator, eval_L), eval_ab, space)
    grid = np.concatenate([np.concatenate(list(col), axis=0) for col in rows.values()], axis=1)
    with writer.as_default(step=step):
        tf.summary.image("gray|colorized|truth", (grid[None] * 255).astype(np.uint8))


def fit(cfg: Config, workdir: fileio.PathLike,
        strategy: tf.distribute.Strategy | None = None) -> FitResult:
    """Trains cfg.train.steps steps in total, resuming from `workdir` (local or gs://...)
    if it holds a checkpoint."""
    workdir = fileio.fspath(workdir)
    strategy = strategy or distribute.make_strategy(cfg.train)  # first: before any TF op
    batch = distribute.global_batch_size(cfg.train, strategy)
    if batch != cfg.train.batch_size:
        logging.info("global batch %d = %d per replica x %d replicas", batch,
                     cfg.train.per_replica_batch_size, strategy.num_replicas_in_sync)
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=batch))
    chief = distribute.is_chief(strategy)
    source = input_pipeline.open_source(input_pipeline.train_spec(cfg.data.source),
                                        min_chroma=cfg.data.min_chroma,
                                        tfds_data_dir=cfg.data.tfds_data_dir)
    eval_spec = cfg.data.eval_source or input_pipeline.default_eval_spec(cfg.data.source)
    # Validation scores every readable photo, as evaluate.py does; the sheets alone skip gray.
    eval_chroma = 0.0 if cfg.train.eval_every else cfg.data.min_chroma
    try:
        eval_source = input_pipeline.open_source(eval_spec, min_chroma=eval_chroma,
                                                 tfds_data_dir=cfg.data.tfds_data_dir)
    except UserError as e:
        if cfg.data.eval_source:  # asked for by name: the user should hear it failed
            # The sources name the field they were given in, `source`; this one is eval_source.
            raise UserError(re.sub(r"^source\b", "eval_source", str(e))) from None
        logging.warning("no default eval images (%s); showing training images instead", e)
        eval_spec, eval_source = cfg.data.source, source
        if eval_chroma != cfg.data.min_chroma:
            eval_source = input_pipeline.open_source(eval_spec, min_chroma=eval_chroma,
                                                     tfds_data_dir=cfg.data.tfds_data_dir)
    fileio.makedirs(workdir)
    _check_config(workdir, cfg, write=chief)
    logging.info("training on %s (%s images) with %d replica(s)%s; eval images from %s",
                 cfg.data.source, source.size or "a stream of", strategy.num_replicas_in_sync,
                 "" if chief else " (a worker: the chief writes the workdir)", eval_spec)
    with contextlib.ExitStack() as cleanup:
        return _fit(cfg, workdir, strategy, chief, source, eval_source, cleanup)


def _validate(validator: validation.Validator, best: validation.BestCheckpoint | None,
              generator: keras.Model, writer, step: int) -> dict:
    """Scores the generator, logs and writes val/* scalars, keeps the best; the result."""
    start = time.perf_counter()
    result = validator(generator)
    logging.info("val step %d: %s  (%.1fs)", step, validation.describe(result),
                 time.perf_counter() - start)
    with writer.as_default(step=step):
        for group, prefix in (("colorgan", "val"), ("grayscale_baseline", "val_gray")):
            for k, v in result[group].items():
                if v is not None:
                    tf.summary.scalar(f"{prefix}/{k}", v)
    if best is not None:
        best.update(result, step)
    return result


def _log_stop(step: int, signum: int | None, deadline: loop.Deadline, t) -> None:
    if signum is not None:
        logging.warning("stopped by signal %d at step %d; checkpoint saved, run the same "
                        "command again to resume", signum, step)
    elif not deadline.passed():
        logging.info("another worker stopped at step %d; stopping too", step)
    else:
        logging.info("time budget of %.0fs reached at step %d/%d; checkpoint saved, run the "
                     "same command again to continue", t.time_budget, step, t.steps)


def _fit(cfg: Config, workdir: str, strategy: tf.distribute.Strategy, chief: bool,
         source: sources.ImageSource, eval_source: sources.ImageSource,
         cleanup: contextlib.ExitStack) -> FitResult:
    """fit's loop; `cleanup` removes a worker's temporary checkpoint dir at the end."""
    t = cfg.train
    state = create_state(cfg, strategy)
    if cfg.loss.rebalance > 0:
        state.ab_weights = colour_weights(cfg, source)
    ckpt = state.checkpoint()
    manager = tf.train.CheckpointManager(ckpt, fileio.join(workdir, CHECKPOINT_DIR),
                                         max_to_keep=t.keep_checkpoints)
    restore_latest(ckpt, manager)
    best_dir = fileio.join(workdir, validation.BEST_DIR)
    if not chief:
        # Every worker takes part in each save (the variables are read collectively), but
        # only the chief's lands in the workdir; the others go to a local temp dir, removed after.
        tmp = tempfile.mkdtemp(prefix="colorgan-worker-")
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        manager = tf.train.CheckpointManager(ckpt, tmp, max_to_keep=1)
        best_dir = fileio.join(tmp, validation.BEST_DIR)
    # Every worker validates (the same weights give the same scores), so all agree on
    # when to save the best generator.
    validator = validation.Validator(cfg, eval_source, size=t.eval_size,
                                     limit=t.eval_limit or None) if t.eval_every else None
    best = validation.BestCheckpoint(best_dir, t.keep_best, state.generator) \
        if t.keep_best else None
    start = int(state.step.numpy())
    _check_data_layout(state, start, t.batch_size, _input_pipelines(source, strategy), workdir)
    if start:
        logging.info("resuming at step %d of %d", start, t.steps)
    elif t.init_from:  # a fresh fine-tune; a resumed one continues from its own checkpoint
        with_d = pretrained.init_from(t.init_from, cfg, state.generator, state.discriminator)
        logging.info("generator%s initialized from %s", " and discriminator" if with_d else "",
                     t.init_from)
        if best is not None and best.best is None:
            # The model it starts from is the first candidate (step 0): a fine-tune that
            # only makes it worse keeps it, never ends below it.
            _validate(validator, best, state.generator, tf.summary.create_noop_writer(), 0)
    elif cfg.model.encoder == "resnet50v2":  # a fresh run: pretrained weights, if any
        networks.load_encoder_weights(state.generator, t.encoder_weights)
        logging.info("encoder %s initialized from %s", cfg.model.encoder, t.encoder_weights)

    def batches_from(size: int, first: int):
        """Distributed batches of `size` crops, from the element that step `first` starts at."""
        return iter(strategy.distribute_datasets_from_function(
            lambda ctx: input_pipeline.train_dataset(
                source, image_size=size, batch_size=t.batch_size, seed=t.seed,
                crop_area=cfg.data.crop_area, start_index=(first - 1) * t.batch_size,
                input_context=ctx, shuffle_buffer=cfg.data.shuffle_buffer,
                input_noise=cfg.data.input_noise, color_space=cfg.model.color_space,
                cache_mb=cfg.data.cache_mb)))

    batches = loop.Batches(cfg, batches_from)
    steps = loop.StepChooser(cfg, state, lambda phase: make_train_step(state, cfg, strategy, phase))
    eval_L, eval_ab = next(iter(input_pipeline.eval_dataset(eval_source, image_size=cfg.data.image_size,
                                                            batch_size=t.sheet_rows, limit=t.sheet_rows,
                                                            color_space=cfg.model.color_space)))
    writer = (tf.summary.create_file_writer(fileio.join(workdir, "tb")) if chief
              else tf.summary.create_noop_writer())

    metrics: dict[str, float] = {}
    step = saved_at = start
    with StopRequest() as stop:
        deadline = loop.Deadline(t.time_budget)
        progress = loop.ProgressLine(t.steps, t.batch_size, start, t.log_every, writer)
        for step in range(start + 1, t.steps + 1):
            phase, train_step = steps(step)
            batch = batches(step)
            # Stop requests (signal, time budget) are agreed on inside the step.
            wants_stop = stop.signum is not None or deadline.passed()
            out = train_step(batch, tf.constant(float(wants_stop)))
            stopping = bool(out.pop("stop") > 0)
            if loop.itstime(step, t.summary_every) or loop.itstime(step, t.log_every, t.steps):
                metrics = {k: float(v) for k, v in out.items()}  # a host sync: not every step
                loop.check_finite(step, metrics, manager.latest_checkpoint)
            if loop.itstime(step, t.summary_every):
                loop.scalars(writer, step, metrics)
            progress(step, metrics, phase)
            if chief and loop.itstime(step, t.image_every):
                _write_images(writer, state.generator, eval_L, eval_ab, step,
                              cfg.model.color_space)
            if validator is not None and loop.itstime(step, t.eval_every, t.steps):
                _validate(validator, best, state.generator, writer, step)
            if stopping or loop.itstime(step, t.checkpoint_every):
                _save(state, manager, step)
                saved_at = step
            if stopping:
                _log_stop(step, stop.signum, deadline, t)
                break
    if saved_at != step:
        _save(state, manager, step)
    writer.flush()
    sheet = None
    if stop.signum is None and chief:
        sheet = fileio.join(workdir, "sample_sheet.png")
        cols = sheets.columns(eval_L, _colorize(state.generator, eval_L), eval_ab,
                              cfg.model.color_space)
        sheets.save_sheet(cols, sheet, title=f"{cfg.data.source} - step {step}")
        logging.info("wrote %s", sheet)
    return FitResult(step=step, metrics=metrics, stopped_by_signal=stop.signum, sheet=sheet,
                     state=state)
