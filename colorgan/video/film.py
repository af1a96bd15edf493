"""Colorize videos and folders of numbered frames: the model over batches of frames, then
the temporal filter (temporal.py) frame by frame, in order.

Every output frame keeps its input's full-resolution lightness (a restoring model's: its
restored, maybe upscaled, lightness): the model's colour (ab) is what the filter steadies,
and the frame is rebuilt from that L and that ab.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import color, config, fileio
from colorgan.data import folders
from colorgan.data.imagefiles import read_image, write_image
from colorgan.errors import UserError
from colorgan.progress import Progress
from colorgan.video import container
from colorgan.video.temporal import TemporalFilter

# Audio codecs an MP4 carries (FFmpeg's mp4 muxer, and players); any other audio stream
# (Vorbis from a webm, PCM from an avi) is copied into Matroska instead.
_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"}


# XLA fuses the colour maths' element-wise chain: 5.8 + 2.0 ms per 480p frame against
# 22.5 + 15.9 eagerly (AMD Zen 4, batch 8; results equal to 1e-4). One compile per frame
# shape: a video's batches and its last, shorter one.
@tf.function(jit_compile=True)
def _split(frames: tf.Tensor, rgb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return color.lightness(frames)[..., 0], color.rgb_to_lab(rgb)[..., 1:]


@tf.function(jit_compile=True)
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
    """Consecutive frames of one video in, colour frames out: float RGB [B, H, W, 3] in
    [0, 1] -> the same. Keeps the temporal filter's state between calls."""

    def __init__(self, model, render_size: int = 0,
                 temporal: config.TemporalConfig = config.TemporalConfig()):
        self.model, self.render_size, self.temporal = model, render_size, temporal
        self.filter = TemporalFilter(temporal)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        rgb = np.asarray(self.model(frames, self.render_size), np.float32)
        if self.temporal.temporal == "none":
            return rgb
        # A restoring model's lightness is its own (restored, maybe upscaled), not the input's.
        L, ab = lab_split(rgb if getattr(self.model, "restores", False) else frames, rgb)
        return lab_join(L, np.stack([self.filter(l, a) for l, a in zip(L, ab)]))


def output_suffix(path: str | os.PathLike) -> str:
    """.mp4, or .mkv where an audio stream's codec has no place in an MP4."""
    codecs = set(container.probe(path).audio_codecs)
    return ".mp4" if codecs <= _MP4_AUDIO else ".mkv"


def colorize_video(model, src: Path, dst: Path, *, render_size: int = 0,
                   temporal: config.TemporalConfig = config.TemporalConfig(),
                   batch_size: int = 8, on_progress=None) -> int:
    """Writes the colorized `src` to `dst` (video.transcode: H.264, timestamps and audio
    kept, atomic). Returns the number of frames; progress in frames/s with an ETA, and
    on_progress(frames done, frames expected or 0) after each batch (the web app's bar)."""
    info = container.probe(src)
    colorize = FrameColorizer(model, render_size, temporal)
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
    return n


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
                    batch_size: int = 8) -> int:
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
    colorize = FrameColorizer(model, render_size, temporal)
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
    return len(files)

