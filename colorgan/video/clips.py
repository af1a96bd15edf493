"""Synthetic video clips over the shipped photos, whose true colour video is known.

A virtual camera pans and zooms over a photo; two shots make a scene cut. The tests,
bench.py (frames/s at 480p) and the README's before/after strip use these clips, so a
colorizer's video can be scored against the truth (colour PSNR) as well as for flicker.
Frames are uint8 RGB [T, H, W, 3].
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorgan.data import folders


def sample_photo(index: int, split: str = "val") -> np.ndarray:
    """The index-th shipped sample photo (sorted by name), uint8 RGB [H, W, 3]."""
    files = sorted((folders.SAMPLES_DIR / split).glob("*.jpg"))
    with Image.open(files[index % len(files)]) as im:
        return np.asarray(im.convert("RGB"))


def shot(photo: np.ndarray, size: tuple[int, int], frames: int, *,
         start: tuple[float, float, float] = (0.3, 0.5, 1.0),
         end: tuple[float, float, float] = (0.7, 0.5, 1.0)) -> np.ndarray:
    """A camera move over `photo`: uint8 [frames, h, w, 3] for size = (w, h).

    start / end = (centre x, centre y as fractions of the photo, zoom): the camera moves
    linearly between them. At zoom 1 the view is as tall as 2/3 of the photo (room to pan
    up and down); zoom 1.5 shows 2/3 as much. The photo is first resized so that one
    view pixel is about one photo pixel (no aliasing from bilinear sampling).
    """
    w, h = size
    ph, pw = photo.shape[:2]
    base = 1.5 * h / ph  # the photo at this scale is 1.5 view heights tall
    image = cv2.resize(photo, (max(w, round(pw * base)), round(ph * base)),
                       interpolation=cv2.INTER_AREA)
    ih, iw = image.shape[:2]
    out = np.empty((frames, h, w, 3), np.uint8)
    for t in range(frames):
        f = t / max(frames - 1, 1)
        cx, cy, zoom = (a + (b - a) * f for a, b in zip(start, end))
        # Keep the view inside the photo: no borders to smear into the clip.
        half_w, half_h = w / 2 / zoom, h / 2 / zoom
        cx = np.clip(cx * iw, half_w, iw - half_w)
        cy = np.clip(cy * ih, half_h, ih - half_h)
        m = np.array([[zoom, 0, w / 2 - zoom * cx], [0, zoom, h / 2 - zoom * cy]], np.float32)
        out[t] = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
    return out


def two_shots(size: tuple[int, int] = (96, 64), frames_per_shot: int = 12,
              photos: tuple[int, int] = (0, 3), split: str = "val") -> tuple[np.ndarray, int]:
    """A pan over one shipped photo, a cut, then a zoom into another: (frames, index of the
    first frame after the cut)."""
    pan = shot(sample_photo(photos[0], split), size, frames_per_shot,
               start=(0.25, 0.45, 1.0), end=(0.75, 0.55, 1.0))
    zoom = shot(sample_photo(photos[1], split), size, frames_per_shot,
                start=(0.5, 0.5, 1.0), end=(0.55, 0.45, 1.4))
    return np.concatenate([pan, zoom]), frames_per_shot


def stills(size: tuple[int, int] = (96, 64), photos: tuple[int, int] = (0, 3),
           split: str = "val") -> list[np.ndarray]:
    """A colour still of each of two_shots' photos, framed unlike any frame of the clip
    (closer, higher, mirrored): uint8 [h, w, 3] each, the references a restorer might have
    for a shot (colorize.py --reference) that are not frames of it."""
    return [shot(sample_photo(i, split), size, 1, start=(0.45, 0.35, 1.25),
                 end=(0.45, 0.35, 1.25))[0, :, ::-1] for i in photos]


def write(path: str | os.PathLike, frames: np.ndarray, fps: int = 12, *, tone_hz: float = 440.0,
          codec: str = "libx264", audio_codec: str = "aac") -> None:
    """uint8 RGB [T, H, W, 3] -> a video file (the container from the suffix), with a mono
    tone in `audio_codec` as its audio track (tone_hz 0: no audio). Odd sides are written
    in 4:4:4."""
    import av  # PyAV loads FFmpeg's libraries: only where a clip is written
    path = Path(path)
    h, w = frames.shape[1:3]
    rate = 48000 if "opus" in audio_codec else 16000  # Opus takes 48 kHz only
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = w, h
        vs.pix_fmt = "yuv444p" if (w % 2 or h % 2) and codec == "libx264" else "yuv420p"
        streams = [vs]
        if tone_hz:
            aus = out.add_stream(audio_codec, rate=rate, layout="mono")
            streams.append(aus)
        for image in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        if tone_hz:
            t = np.arange(int(rate * len(frames) / fps)) / rate
            tone = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            step = 960 if "opus" in audio_codec else 1024
            for k in range(0, len(tone), step):
                # PyAV's encoder converts the samples to the codec's own format.
                frame = av.AudioFrame.from_ndarray(tone[None, k:k + step], format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts = rate, k
                out.mux(aus.encode(frame))
        for s in streams:
            out.mux(s.encode(None))
