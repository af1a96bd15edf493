"""Video files in and out with PyAV (FFmpeg's libraries, shipped in its wheels).

`probe` describes a clip; `transcode` decodes its frames as uint8 RGB [H, W, 3], hands
them to a function in batches, and writes what comes back as H.264 with each frame's
own timestamp (so the frame rate, variable or not, and the duration are the input's),
copying every audio stream unchanged. The output is written under a temporary name
beside the target and renamed when complete: an error or Ctrl-C leaves nothing behind.

H.264 in 4:2:0 needs even sides; a clip with an odd side is written in 4:4:4 instead
(same size, fewer players) rather than cropped or padded.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from colorgan import fileio
from colorgan.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm")
# Container for each output suffix; H.264 goes in all of these (webm would need VP9).
_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: Fraction       # average frame rate
    frames: int         # as the container declares it (0: not declared)
    duration: float     # seconds (0.0: not declared)
    audio_codecs: tuple[str, ...]  # one name per audio stream ("aac", "opus", ...)

    @property
    def audio_streams(self) -> int:
        return len(self.audio_codecs)

    @property
    def expected_frames(self) -> int:
        """The declared frame count, else duration x frame rate (Matroska and WebM declare
        no count); 0 when neither is known. For progress and the truncation check."""
        return self.frames or round(self.duration * float(self.fps))


def _open(path: str | os.PathLike):
    import av  # PyAV loads FFmpeg's libraries: only where a video is touched
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise UserError(f"{path}: not a readable video ({e.__class__.__name__}: "
                        f"{getattr(e, 'strerror', None) or e})") from None


def probe(path: str | os.PathLike) -> VideoInfo:
    """The clip's first video stream. UserError (one line naming the file) when there is
    none or the file does not open."""
    with _open(path) as container:
        if not container.streams.video:
            raise UserError(f"{path}: no video stream")
        v = container.streams.video[0]
        if v.codec_context is None:  # FFmpeg has no decoder for it (or it is mislabelled)
            raise UserError(f"{path}: unknown video codec")
        duration = (float(container.duration) / 1e6) if container.duration else 0.0
        return VideoInfo(str(path), v.codec_context.width, v.codec_context.height,
                         Fraction(v.average_rate or 0), int(v.frames or 0), duration,
                         tuple(a.codec_context.name if a.codec_context else "unknown"
                               for a in container.streams.audio))


def read_frames(path: str | os.PathLike, batch_size: int = 8) -> Iterator[np.ndarray]:
    """The clip's frames in order, as uint8 RGB batches [<= batch_size, H, W, 3].
    UserError for a file with no video or one that stops decoding."""
    import av  # PyAV loads FFmpeg's libraries: only where a video is touched
    probe(path)
    done = 0
    try:
        with _open(path) as container:
            frames = (f.to_ndarray(format="rgb24") for f in container.decode(video=0))
            for batch in _batches(frames, batch_size):
                done += len(batch)
                yield np.stack(batch)
    except av.error.FFmpegError as e:
        raise UserError(f"{path}: damaged or truncated: decoding stopped after {done} "
                        f"frames ({e})") from None
    if done == 0:
        raise UserError(f"{path}: no frames")


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def transcode(src: str | os.PathLike, dst: str | os.PathLike,
              fn: Callable[[np.ndarray], np.ndarray], *, batch_size: int = 8,
              on_frames: Callable[[int], None] | None = None, crf: int = 18,
              scale: int = 1) -> int:
    """Writes fn(frames) of every frame of `src` to `dst` (H.264, the audio copied).

    fn: uint8 RGB [B, H, W, 3] -> uint8 RGB [B, scale H, scale W, 3] (scale: an upscaling
    model's), called with up to batch_size
    consecutive frames. on_frames(n) is called after each batch with the frames done so
    far. Returns the number of frames written. Raises UserError for a file without video,
    with no frames, or with fewer frames than it declares (truncated); `dst` is then
    untouched.
    """
    import av  # PyAV loads FFmpeg's libraries: only where a video is touched
    src, dst = Path(src), Path(dst)
    fmt = _FORMATS.get(dst.suffix.lower())
    if fmt is None:
        raise UserError(f"{dst}: write videos as {', '.join(_FORMATS)}")
    info = probe(src)
    written = 0
    try:
        with fileio.publishing(dst) as tmp, _open(src) as inp, \
                av.open(tmp, "w", format=fmt) as out:
            vin = inp.streams.video[0]
            vout = out.add_stream("libx264", rate=vin.average_rate or 25)
            vout.width, vout.height = info.width * scale, info.height * scale
            even = vout.width % 2 == 0 and vout.height % 2 == 0
            vout.pix_fmt = "yuv420p" if even else "yuv444p"
            vout.time_base = vin.time_base
            vout.options = {"crf": str(crf)}
            audio = {a: out.add_stream_from_template(a) for a in inp.streams.audio}

            packets = 0  # video packets with data: what the container holds

            def frames():
                nonlocal packets
                for packet in inp.demux(vin, *audio):
                    if packet.stream in audio:
                        if packet.dts is not None:  # skip the demuxer's flush packet only
                            packet.stream = audio[packet.stream]
                            out.mux(packet)
                        continue
                    packets += packet.size > 0
                    for frame in packet.decode():  # the flush packet yields the last frames
                        yield frame

            step = round(1 / (float(vin.average_rate or 25) * vin.time_base)) if vin.time_base else 1
            last_pts = None
            for batch in _batches(frames(), batch_size):
                rgb = np.stack([f.to_ndarray(format="rgb24") for f in batch])
                result = np.asarray(fn(rgb))
                b, h, w, c = rgb.shape
                if result.shape != (b, h * scale, w * scale, c) or result.dtype != np.uint8:
                    raise ValueError(f"fn returned {result.dtype} {result.shape} for "
                                     f"uint8 {rgb.shape}")
                for frame, image in zip(batch, result):
                    new = av.VideoFrame.from_ndarray(image, format="rgb24")
                    # A frame without a timestamp (some AVIs) follows the last one at the
                    # average rate.
                    pts = frame.pts if frame.pts is not None else (
                        0 if last_pts is None else last_pts + step)
                    new.pts, new.time_base, last_pts = pts, vin.time_base, pts
                    out.mux(vout.encode(new))
                written += len(batch)
                if on_frames:
                    on_frames(written)
            out.mux(vout.encode(None))
            # Checked before the with-block publishes the file: a bad clip leaves no output.
            if written == 0:
                raise UserError(f"{src}: no frames")
            # Packets, not decoded frames: an edit list (a clip cut with -c copy) or an AVI's
            # dropped-frame chunks decode to fewer frames than the container holds, legally.
            if info.frames and packets < info.frames:
                raise UserError(f"{src}: truncated ({packets} of {info.frames} frames present)")
            expected = info.expected_frames
            if not info.frames and expected and packets < 0.9 * expected - 1:
                raise UserError(f"{src}: truncated ({packets} frames of the ~{expected} its "
                                f"duration holds)")
    except av.error.FFmpegError as e:
        raise UserError(f"{src}: damaged, truncated or unsupported: stopped after {written} "
                        f"frames ({e})") from None
    return written
