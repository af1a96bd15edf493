"""The fit loop's parts: what trains at a step, what feeds it, and the periodic work after it.

In the spirit of flax's periodic_actions and big_vision's `itstime`: each periodic action
is a small callable `(step, metrics, stopping)` that decides from the step whether it is
its time, so `training._fit` is a short loop that runs a step and then every action.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Iterator

import tensorflow as tf
from absl import logging

from colorgan.config import (Config, encoder_trains_from, parse_schedule, parse_size_schedule,
                             phase_at)
from colorgan.progress import format_eta


def itstime(step: int, every: int, last: int = 0) -> bool:
    """Whether `step` is one of every `every` steps (or the last one); every <= 0: never."""
    return every > 0 and (step % every == 0 or step == last)


class StepChooser:
    """step -> the traced train step for it: the phase schedule (NoGAN), and a new trace
    when the vgg16 encoder starts training (the variables to update are fixed when a step
    is traced). `make_step(phase)` traces one."""

    def __init__(self, cfg: Config, state, make_step: Callable[[str], Callable]):
        self.schedule = parse_schedule(cfg.train.schedule, cfg.train.steps)
        self.encoder_from = encoder_trains_from(cfg.train.train_encoder)
        self.state, self.make_step = state, make_step
        self.traced: dict[str, Callable] = {}  # one traced step per phase, built when needed

    def __call__(self, step: int) -> tuple[str, Callable]:
        phase = phase_at(self.schedule, step)
        encoder = self.state.encoder()
        if encoder is not None and not encoder.trainable and step >= (self.encoder_from or math.inf):
            logging.info("the encoder trains from step %d", step)
            encoder.trainable = True
            self.traced.clear()
        if phase not in self.traced:
            logging.info("phase %s from step %d", phase, step)
            self.traced[phase] = self.make_step(phase)
        return phase, self.traced[phase]


class Batches:
    """step -> its distributed batch; progressive resizing switches the crop size (same
    weights) and restarts the stream at the element that step starts at."""

    def __init__(self, cfg: Config, make_batches: Callable[[int, int], Iterator]):
        self.sizes = parse_size_schedule(cfg.data.size_schedule, cfg.data.image_size,
                                         cfg.train.steps)
        self.make_batches = make_batches  # (size, first step) -> iterator of batches
        self.size, self.batches = None, None

    def __call__(self, step: int):
        if phase_at(self.sizes, step) != self.size:
            self.size = phase_at(self.sizes, step)
            if len(self.sizes) > 1:
                logging.info("size %d from step %d", self.size, step)
            self.batches = None  # the old stream (and its photo cache) goes before the new one
            self.batches = self.make_batches(self.size, step)
        return next(self.batches)


class Deadline:
    """The time budget: `passed()` once `seconds` (0 = none) of training went by."""

    def __init__(self, seconds: float):
        self.at = time.perf_counter() + seconds if seconds > 0 else math.inf

    def passed(self) -> bool:
        return time.perf_counter() >= self.at


class ProgressLine:
    """Every `every` steps: losses, images/s and ETA, and speed/images_per_second. The
    first step's time (tracing included) is logged apart and left out of the rate."""

    def __init__(self, total: int, batch: int, start: int, every: int, writer):
        self.total, self.batch, self.every, self.writer = total, batch, every, writer
        self.first = start + 1
        self.mark_time, self.mark_step = time.perf_counter(), start

    def __call__(self, step: int, metrics: dict, phase: str) -> None:
        now = time.perf_counter()
        if step == self.first:
            logging.info("first step (tracing included) took %.1fs", now - self.mark_time)
            self.mark_time, self.mark_step = now, step
        if not itstime(step, self.every, self.total):
            return
        rate = (step - self.mark_step) / max(now - self.mark_time, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else 0.0
        logging.info("step %d/%d %s  d %.3f  g_gan %.3f  g_l1 %.4f  | %.1f img/s  ETA %s",
                     step, self.total, phase, metrics["d"], metrics["g_gan"], metrics["g_l1"],
                     rate * self.batch, format_eta(eta))
        with self.writer.as_default(step=step):
            tf.summary.scalar("speed/images_per_second", rate * self.batch)
        self.mark_time, self.mark_step = now, step


def scalars(writer, step: int, metrics: dict) -> None:
    with writer.as_default(step=step):
        for k, v in metrics.items():
            tf.summary.scalar(f"loss/{k}", v)


def check_finite(step: int, metrics: dict, last_good: str | None) -> None:
    if not all(math.isfinite(v) for v in metrics.values()):
        raise FloatingPointError(f"loss is not finite at step {step}: {metrics}; the last good "
                                 f"checkpoint is {last_good}")
