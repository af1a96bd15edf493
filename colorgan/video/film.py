"""Colorize videos and folders of numbered frames: the model over batches of frames, then
the temporal filter (temporal.py) frame by frame, in order.

Every output frame keeps its input's full-resolution lightness (a restoring model's: its
restored, maybe upscaled, lightness): the model's colour (ab) is what the filter steadies,
and the frame is rebuilt from that L and that ab.

With colour reference photos (a keyframe coloured by hand, a colour still of the scene),
each shot takes the one that matches its first frame best, and every frame of the shot is
coloured from it (graph.Colorizer.colorize_reference: where its content matches, the
automatic colour elsewhere), then steadied by the same filter. At a scene cut the choice
is made again and the filter carries nothing over.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import color, config, fileio
from colorgan.data import folders
from colorgan.data.imagefiles import read_image, write_image
from colorgan.errors import UserError
from colorgan.progress import Progress
from colorgan.video import container
from colorgan.video.temporal import Shots, TemporalFilter

# Audio codecs an MP4 carries (FFmpeg's mp4 muxer, and players); any other audio stream
# (Vorbis from a webm, PCM from an avi) is copied into Matroska instead.
_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"}


# XLA fuses the colour maths' element-wise chain: 5.8 + 2.0 ms per 480p frame against
# 22.5 + 15.9 eagerly (AMD Zen 4, batch 8; results equal to 1e-4). One compile per frame
# shape: a video's batches and its last, shorter one.
@tf.function(jit_compile=True, autograph=False)
def _split(frames: tf.Tensor, rgb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return color.lightness(frames)[..., 0], color.rgb_to_lab(rgb)[..., 1:]


@tf.function(jit_compile=True, autograph=False)
def _lightness(frames: tf.Tensor) -> tf.Tensor:
    return color.lightness(frames)[..., 0]


@tf.function(jit_compile=True, autograph=False)
def _join(L: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(color.lab_to_rgb(tf.concat([L[..., None], ab], -1)), 0.0, 1.0)


def lab_split(frames: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input frames and the model's RGB, both float [B, H, W, 3] in [0, 1] -> (the input's
    L [B, H, W] in [0, 100], the model's ab [B, H, W, 2])."""
    L, ab = _split(tf.constant(frames, tf.float32), tf.constant(rgb, tf.float32))
    return L.numpy(), ab.numpy()


def lab_join(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L [B, H, W] in [0, 100], ab [B, H, W, 2] -> RGB float [B, H, W, 3] in [0, 1]."""
    return _join(tf.constant(L, tf.float32), tf.constant(ab, tf.float32)).numpy()


class FrameColorizer:
    """Consecutive frames of one video in, colour frames out: float RGB [B, H, W, C] in
    [0, 1] -> RGB [B, s H, s W, 3]. Keeps the temporal filter's state between calls.

    `references`: colour photos RGB [h, w, 3] in [0, 1] (serve/exemplar.read_many), a
    VGG16-encoder model's; each shot is coloured from the one that matches its first frame
    best. `shots` records (first frame, reference index, score) per shot (score nan where
    there was one reference to choose from)."""

    def __init__(self, model, render_size: int = 0,
                 temporal: config.TemporalConfig = config.TemporalConfig(),
                 references: Sequence[np.ndarray] = ()):
        self.model, self.render_size, self.temporal = model, render_size, temporal
        self.filter = TemporalFilter(temporal)
        self.references = list(references)
        self._cuts = Shots(temporal)
        self.shots: list[tuple[int, int, float]] = []

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        rgb = np.asarray(self._predict(frames), np.float32)
        if self.temporal.temporal == "none":
            return rgb
        # A restoring model's lightness is its own (restored, maybe upscaled), not the input's.
        L, ab = lab_split(rgb if getattr(self.model, "restores", False) else frames, rgb)
        return lab_join(L, np.stack([self.filter(l, a) for l, a in zip(L, ab)]))

    def _predict(self, frames: np.ndarray) -> np.ndarray:
        if not self.references:
            return self.model(frames, self.render_size)
        # The input's lightness decides the cuts (a restoring model's filter sees its
        # restored lightness: the two may disagree on a borderline cut).
        taken = []
        for i, L in enumerate(_lightness(tf.constant(frames, tf.float32)).numpy()):
            if self._cuts(L):
                best, score = self.model.best_reference(frames[i:i + 1], self.render_size,
                                                        self.references)
                self.shots.append((self._cuts.frames - 1, best, score))
            taken.append(self.shots[-1][1])
        parts, start = [], 0
        for index, run in itertools.groupby(taken):  # one call per run of one reference
            n = len(list(run))
            parts.append(self.model.with_reference(frames[start:start + n], self.render_size,
                                                   self.references[index]))
            start += n
        return np.concatenate(parts)


def output_suffix(path: str | os.PathLike) -> str:
    """.mp4, or .mkv where an audio stream's codec has no place in an MP4."""
    codecs = set(container.probe(path).audio_codecs)
    return ".mp4" if codecs <= _MP4_AUDIO else ".mkv"


def colorize_video(model, src: Path, dst: Path, *, render_size: int = 0,
                   temporal: config.TemporalConfig = config.TemporalConfig(),
                   batch_size: int = 8, on_progress=None,
                   references: Sequence[np.ndarray] = ()) -> int:
    """Writes the colorized `src` to `dst` (video.transcode: H.264, timestamps and audio
    kept, atomic). Returns the number of frames; progress in frames/s with an ETA, and
    on_progress(frames done, frames expected or 0) after each batch (the web app's bar).
    `references` as FrameColorizer takes them."""
    info = container.probe(src)
    colorize = FrameColorizer(model, render_size, temporal, references)
    bar = Progress(info.expected_frames, label=f"{src.name} ", unit="frames")

    def fn(frames: np.ndarray) -> np.ndarray:
        rgb = colorize(frames.astype(np.float32) / 255)
        return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        n = container.transcode(src, dst, fn, batch_size=batch_size,
                                on_frames=lambda done: _advance(bar, src.name, done, on_progress),
                                scale=getattr(model, "scale", 1))
    finally:
        bar.finish()
    if colorize.filter.cuts[1:]:
        logging.info("%s: new shots at frames %s", src, colorize.filter.cuts[1:])
    _log_shots(src, colorize.shots)
    return n


def _log_shots(src: Path, shots: list[tuple[int, int, float]]) -> None:
    """Which reference each shot took, where there were several to choose from."""
    for frame, index, score in shots:
        if not np.isnan(score):
            logging.info("%s: the shot from frame %d takes reference %d (matching %.0f %%)",
                         src, frame, index + 1, 100 * score)


def _advance(bar: Progress, name: str, done: int, on_progress) -> None:
    bar.update(name, done - bar.done)
    if on_progress is not None:
        on_progress(done, bar.total)


_NUMBER = re.compile(r"(\d+)")


def natural_key(name: str) -> list:
    """"frame10.png" after "frame9.png": digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name)]


def frame_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, in frame order (numbers compare as numbers)."""
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() in folders.IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


def colorize_frames(model, src: Path, dst: Path, *, fmt: str = "png", render_size: int = 0,
                    temporal: config.TemporalConfig = config.TemporalConfig(),
                    batch_size: int = 8, references: Sequence[np.ndarray] = ()) -> int:
    """A folder of numbered frames -> folder `dst` of colour frames of the same names (as
    `fmt`), published whole (fileio.publishing): a failure leaves no folder behind. Frames
    must share one size (they are one video)."""
    files = frame_files(src)
    if not files:
        raise UserError(f"{src}: no image files (frames) in the folder")
    stems = [p.stem for p in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:  # frame_1.png and frame_1.jpg would both become frame_1.<fmt>
        raise UserError(f"{src}: frames {', '.join(twice[:3])} exist in two formats")
    if dst.exists():
        raise UserError(f"{dst} exists")
    colorize = FrameColorizer(model, render_size, temporal, references)
    bar = Progress(len(files), label=f"{src.name}/ ", unit="frames")
    size = None  # the first frame's shape: every frame must have it
    try:
        with fileio.publishing(dst, folder=True) as folder:
            tmp = Path(folder)
            for k in range(0, len(files), batch_size):
                batch = files[k:k + batch_size]
                images = [read_image(p) for p in batch]
                size = size or images[0].shape
                for p, im in zip(batch, images):
                    if im.shape != size:
                        raise UserError(f"{src}: frames differ in size ({p.name} is "
                                        f"{im.shape[1]}x{im.shape[0]}, {files[0].name} "
                                        f"{size[1]}x{size[0]})")
                for p, rgb in zip(batch, colorize(np.stack(images))):
                    write_image(rgb, tmp / f"{p.stem}.{fmt}", fmt)
                bar.update(batch[-1].name, len(batch))
    finally:
        bar.finish()
    _log_shots(src, colorize.shots)
    return len(files)

