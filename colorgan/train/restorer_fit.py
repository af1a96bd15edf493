"""Trains the old-photo restorer (models/restorer.py) with the project's recipe: L1, the
shipped VGG16's perceptual loss and a conditional PatchGAN (the scan's upscale | the
lightness), on old-photo scans made on the fly (data/degrade.py).

Steps cycle through SCHEDULE: old-photo scans restored at 1x, 2x and 4x, and clean
bicubic-downscaled ones super-resolved at 2x and 4x (the restorer's two modes). Each slot
reads its own stream of crops (`input_pipeline.train_dataset(old_photo=..., scale=s)`), so
step k's batch is a function of (seed, k) alone and a resumed run sees what the
uninterrupted one saw. The workdir
holds checkpoints/ (resumed from), tb/ and, at the end, restorer/ (the weights in the
shipped format, with their card).
"""

from __future__ import annotations

import dataclasses
import json
import time

import keras
import tensorflow as tf
from absl import logging

from colorgan import color, config, fileio, machine
from colorgan.data import input_pipeline
from colorgan.errors import UserError
from colorgan.evaluate import old_photos, restoration
from colorgan.models import defect_finder, networks, restorer as restorer_lib, vgg
from colorgan.train import loop, losses
from colorgan.train.fit import restore_latest
from colorgan.train.interrupts import StopRequest

SCALES = restorer_lib.SCALES
VAL_SEED = old_photos.SEED  # the validation scans' seed: evaluate.py --degrade's


# (scale, restore) per step, in turn: restore old photos at every scale; super-resolve
# clean photos (restore off) at 2x and 4x (1x of a clean photo is the photo).
SCHEDULE = tuple((s, True) for s in SCALES) + tuple((s, False) for s in SCALES if s > 1)


def slot_of(step: int) -> int:
    """The SCHEDULE slot step `step` (1-based) trains."""
    return (step - 1) % len(SCHEDULE)


def steps_before(step: int, slot: int) -> int:
    """How many of steps 1..step-1 trained `slot`: where its stream resumes."""
    n = len(SCHEDULE)
    return max(0, (step - 1 - slot + n - 1) // n)


def gray_rgb(L: tf.Tensor) -> tf.Tensor:
    """Model-range L [B, H, W, 1] -> the gray sRGB [B, H, W, 3] VGG16 sees."""
    return color.gray_rgb(tf.clip_by_value(L, -1.0, 1.0))


@dataclasses.dataclass
class RestorerState:
    restorer: restorer_lib.Restorer
    discriminator: keras.Model
    g_optimizer: keras.optimizers.Optimizer
    d_optimizer: keras.optimizers.Optimizer
    step: tf.Variable

    def checkpoint(self) -> tf.train.Checkpoint:
        parts = {} if self.restorer.finder is None else {"finder": self.restorer.finder}
        return tf.train.Checkpoint(restorer=self.restorer.everything,
                                   discriminator=self.discriminator,
                                   g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
                                   step=self.step, **parts)


def create_state(cfg: config.RestorerConfig) -> RestorerState:
    def adam():
        lr = keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(cfg.steps * 0.75)], [cfg.learning_rate, cfg.learning_rate / 2])
        return keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.99)

    r = restorer_lib.Restorer(cfg)
    d = networks.build_discriminator(config.ModelConfig(disc_filters=cfg.disc_filters),
                                     in_channels=1, target_channels=1)
    state = RestorerState(r, d, adam(), adam(), tf.Variable(0, dtype=tf.int64, name="step"))
    state.g_optimizer.build(trainable(r))
    state.d_optimizer.build(d.trainable_variables)
    return state


def trainable(r: restorer_lib.Restorer) -> list:
    """The restorer's trainable weights, its defect finder's after them."""
    finder = [] if r.finder is None else r.finder.trainable_variables
    return list(r.everything.trainable_variables) + list(finder)


def make_step(state: RestorerState, cfg: config.RestorerConfig, scale: int, restore: bool,
              perceptual):
    """A tf.function (scan, mask, L) -> losses for one `scale`x batch in one mode. With
    defects the finder learns the drawn mask, and the restorer restores the scan filled
    where the drawn mask says (so it learns to paint, whatever the finder's skill so far)
    or, for a share found_masks of the photos, where the finder says (so it learns to cope
    with the finder's misses and false alarms); without, `mask` is ignored."""
    model = state.restorer.models[scale]
    finder = state.restorer.finder
    g_vars = model.trainable_variables + ([] if finder is None else finder.trainable_variables)
    D = state.discriminator

    @tf.function(autograph=False)
    def step(scan, mask, L):
        cond = restoration.upscale(scan, scale, "bilinear")
        with tf.GradientTape(persistent=True) as tape:
            found = tf.constant(0.0)
            mask_in = None
            if finder is not None:
                logits = state.restorer.defects(scan, restorer_lib.levels(scan), training=True)
                found = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(
                    mask, logits, cfg.finder_positive))
                # Per photo, the drawn mask or the finder's own (no gradient through it), as
                # RestorerConfig.found_masks says: drawn from the step, so a resume repeats it.
                # Only super-resolving, serving passes no mask: nor does training.
                mask_in = mask
                if restore and cfg.found_masks > 0:
                    coin = tf.random.stateless_uniform(
                        [tf.shape(scan)[0], 1, 1, 1], tf.stack([state.step, 7]))
                    own = tf.stop_gradient(defect_finder.marks(logits))
                    mask_in = tf.where(coin < cfg.found_masks, own, mask)
            out = state.restorer(scan, scale, restore, training=True, mask=mask_in)
            l1 = tf.reduce_mean(tf.abs(out - L))
            perc = tf.constant(0.0)
            if perceptual is not None:
                perc = tf.reduce_mean(losses.perceptual_loss(perceptual, gray_rgb(L),
                                                             gray_rgb(out)))
            g_gan = d_loss = tf.constant(0.0)
            if cfg.lambda_gan > 0:
                fake, real = D([cond, out], training=True), D([cond, L], training=True)
                g_gan = tf.reduce_mean(losses.generator_gan_loss(fake))
                d_loss = tf.reduce_mean(losses.discriminator_gan_loss(real, fake))
            total = (cfg.lambda_l1 * l1 + cfg.lambda_perceptual * perc + cfg.lambda_gan * g_gan
                     + cfg.lambda_finder * found)
        state.g_optimizer.apply_gradients(zip(tape.gradient(total, g_vars), g_vars))
        if cfg.lambda_gan > 0:
            state.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, D.trainable_variables),
                                                  D.trainable_variables))
        del tape
        state.step.assign_add(1)
        return {"g_l1": l1, "g_perceptual": perc, "g_gan": g_gan, "d": d_loss, "finder": found,
                "g_total": total}

    return step


def validate(r: restorer_lib.Restorer, source_spec: str = "samples:val", size: int = 128,
             limit: int | None = None) -> dict:
    """L* PSNR/SSIM of the restorer against bicubic, per scale, on old-photo scans and on
    clean bicubic-downscaled ones of `source_spec` (fixed seed)."""
    source = input_pipeline.open_source(source_spec, min_chroma=0.0)
    out = {}
    for s, restore in SCHEDULE:
        pairs = restoration.old_photo_pairs(
            source, size=size, scale=s, seed=VAL_SEED, limit=limit,
            degradation=config.DegradeConfig() if restore else restoration.CLEAN)
        out[f"{'old_photo' if restore else 'clean'}_x{s}"] = restoration.lightness_scores(
            pairs, lambda scan, s=s, restore=restore: r(scan, s, restore), s)
    return out


def fit_restorer(cfg: config.RestorerConfig, workdir: fileio.PathLike, data: str = "samples",
                 time_budget: float = 0.0, log_every: int = 50, checkpoint_every: int = 250,
                 val_size: int = 128, val_limit: int | None = None, cache_mb: float = 512,
                 stop_at: int = 0, validate_at_end: bool = True, init_from: str = "") -> dict:
    """Trains to cfg.steps (resuming from `workdir`), writes workdir/restorer/; returns the
    card: what it trained on, how long, and its validation scores ({"step", "stopped"} when
    a signal, the time budget or `stop_at` (a step) stopped it first, checkpointed).
    `init_from`: a saved restorer folder (restorer.save's, same architecture) whose weights
    a new run starts from (a fine-tune; ignored on resume: the checkpoint has them)."""
    workdir = fileio.fspath(workdir)
    fileio.makedirs(workdir)
    cfg_path = fileio.join(workdir, "restorer_config.json")
    text = json.dumps(dataclasses.asdict(cfg), indent=2, sort_keys=True, default=list)
    if fileio.exists(cfg_path):  # a resume: the networks and the data stream must match
        old, new = json.loads(fileio.read_text(cfg_path)), json.loads(text)
        fixed = ("channels", "blocks", "disc_filters", "seed", "image_size", "crop_area",
                 "batch_size", "degrade", "defects", "finder_channels", "mask_input")
        # A field added later reads, in a workdir from before it, as what that run trained with.
        before = {"mask_input": True}
        differ = [k for k in fixed if old.get(k, before.get(k)) != new[k]]
        if differ:
            raise UserError(f"workdir={workdir} holds a restorer trained with other "
                            f"{', '.join(differ)}; use the same settings or a new workdir")
    source = input_pipeline.open_source(input_pipeline.train_spec(data), min_chroma=0.0)
    state = create_state(cfg)
    ckpt = state.checkpoint()
    manager = tf.train.CheckpointManager(ckpt, fileio.join(workdir, "checkpoints"), max_to_keep=2)
    restore_latest(ckpt, manager)
    start = int(state.step.numpy())
    if init_from and start == 0:
        start_from = restorer_lib.load(init_from)
        if start_from.cfg.model_fields() != cfg.model_fields():
            raise UserError(f"init_from={init_from}: its restorer is "
                            f"{start_from.cfg.model_fields()}, not {cfg.model_fields()}")
        for v, w in zip(state.restorer.variables, start_from.variables, strict=True):
            v.assign(w)
        logging.info("starting from the weights in %s", init_from)
    # A resume past step N that will average needs N's weights, kept when the run passed N
    # (a snapshot is trusted as this run's: the workdir holds one run, the resume guard
    # above checks its settings).
    snapshot = fileio.join(workdir, f"snapshot-{cfg.average_from}")
    averages = 0 < cfg.average_from < max(cfg.steps, start)
    if averages and cfg.average_from <= start and not fileio.isfile(
            fileio.join(snapshot, restorer_lib.WEIGHTS_FILE)):
        raise UserError(f"workdir={workdir} is past step {cfg.average_from} without its "
                        f"snapshot-{cfg.average_from}/ (trained without --average_from="
                        f"{cfg.average_from}); retrain in a new workdir to average")
    fileio.write_text_atomic(cfg_path, text)  # after the checks: a refused resume keeps it
    perceptual = (vgg.build_trunk(vgg.load_weights(), tuple(cfg.perceptual_layers))
                  if cfg.lambda_perceptual > 0 else None)
    steps = [make_step(state, cfg, s, restore, perceptual) for s, restore in SCHEDULE]

    def stream(slot):
        s, restore = SCHEDULE[slot]
        return iter(input_pipeline.train_dataset(
            source, image_size=cfg.image_size, batch_size=cfg.batch_size,
            seed=cfg.seed * 100 + slot, crop_area=cfg.crop_area,
            start_index=steps_before(start + 1, slot) * cfg.batch_size,
            old_photo=cfg.degrade if restore else restoration.CLEAN, scale=s,
            cache_mb=cache_mb, with_defects=True))

    streams = {}  # opened at a scale's first step: a short resumed run may need only one
    writer = tf.summary.create_file_writer(fileio.join(workdir, "tb"))
    logging.info("restorer: %d parameters, steps %d..%d on %s (%s photos)",
                 state.restorer.everything.count_params(), start + 1, cfg.steps, data,
                 source.size)
    step, began, metrics = start, time.perf_counter(), {}
    with StopRequest() as stop:
        deadline = loop.Deadline(time_budget)
        progress = loop.ProgressLine(cfg.steps, cfg.batch_size, start, log_every, writer)
        for step in range(start + 1, cfg.steps + 1):
            slot = slot_of(step)
            if slot not in streams:
                streams[slot] = stream(slot)
            scan, mask, L, _ = next(streams[slot])
            out = steps[slot](scan, mask, L)
            if loop.itstime(step, log_every, cfg.steps):
                metrics = {k: float(v) for k, v in out.items()}
                loop.check_finite(step, metrics, manager.latest_checkpoint)
                loop.scalars(writer, step, metrics)
            s, restore = SCHEDULE[slot]
            progress(step, metrics, f"x{s}{'' if restore else ' clean'}")
            if step == cfg.average_from:  # before the checkpoint: a resume past it finds it
                restorer_lib.save(state.restorer, snapshot, {"steps": step})
            stopping = stop.signum is not None or deadline.passed() or step == stop_at
            if stopping or loop.itstime(step, checkpoint_every, cfg.steps):
                manager.save(checkpoint_number=step)
            if stopping:
                logging.info("stopped at step %d; run the same command again to resume", step)
                return {"step": step, "stopped": True}
    minutes = (time.perf_counter() - began) / 60
    final = state.restorer
    if 0 < cfg.average_from < step:
        # Weight averaging (SWA, model soups): the mean of the two snapshots of one run
        # beats both on old photos and on clean x4 (docs/notes/restoration.md).
        final = restorer_lib.load(snapshot)
        restorer_lib.average_into(final, state.restorer)
        logging.info("writing the mean of the weights at steps %d and %d", cfg.average_from,
                     step)
    scores = validate(final, size=val_size, limit=val_limit) if validate_at_end else {}
    with writer.as_default(step=step):
        for key, result in scores.items():
            for which, m in result.items():
                tf.summary.scalar(f"val_{key}/{which}_psnr", m["psnr"])
    writer.flush()
    card = {"data": data, "steps": step, "minutes_this_run": round(minutes, 1),
            "machine": machine.describe(),
            "averaged_steps": [cfg.average_from, step] if final is not state.restorer else [],
            "val_size": val_size, "val_seed": VAL_SEED, "val": scores,
            **({"init_from": init_from} if init_from else {}),
            "config": json.loads(text)}
    restorer_lib.save(final, fileio.join(workdir, "restorer"), card)
    for key, result in scores.items():
        logging.info("val %s: restored %.2f dB / %.4f, bicubic %.2f dB / %.4f", key,
                     result["restored"]["psnr"], result["restored"]["ssim"],
                     result["bicubic"]["psnr"], result["bicubic"]["ssim"])
    return card
