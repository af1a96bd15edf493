"""Steady colour from frame to frame: optical flow, warping, occlusion, scene cuts, and
the warping error that measures flicker.

A colorizer that sees each frame alone picks each frame's chroma alone, so a wall that
is beige in one frame may be grey in the next: the video flickers. `TemporalFilter`
carries the previous output's chroma (ab) along the optical flow to the current frame
and blends it with the current prediction, pixel by pixel, with weight

    w = keep * reliable * exp(-(dL / gate)^2 / 2)

where `reliable` is the forward-backward consistency of the flow (a pixel whose
backward flow is not undone by the forward flow is occluded or mis-matched; the rule of
Sundaram et al. 2010, as used by Ruder et al. 2016 and Lai et al. 2018) and dL is the
difference between the pixel's lightness and that of where the flow says it came from
(a changed pixel gets its own colour). Along a reliable trajectory this is an
exponential moving average of the predictions: flicker falls by ~(1 - keep)^2 / (1 + keep)
in squared error while a colour that truly changes follows with a lag of ~1/(1 - keep)
frames. At a scene cut, found from the lightness histograms, nothing is carried over.

Flow is OpenCV's DIS (Kroeger et al. 2016) on the lightness, computed at a reduced size
(chroma is smooth; `TemporalConfig.flow_side`). Arrays: L float [H, W] in [0, 100], ab
float [H, W, 2] (Lab a, b), flow float32 [H, W, 2] in pixels (x, y) such that
frame(p) ~ other(p + flow(p)).
"""

from __future__ import annotations

import cv2
import numpy as np

from colorgan import config

HISTOGRAM_BINS = 32


def to_u8(L: np.ndarray) -> np.ndarray:
    """Lightness [H, W] in [0, 100] -> uint8 [H, W] (what DIS takes)."""
    return np.clip(L * 2.55 + 0.5, 0, 255).astype(np.uint8)


class Flow:
    """DIS optical flow between two lightness images, computed at most `max_side` wide/high
    (0 = full size) and returned at full size, in full-size pixels."""

    def __init__(self, max_side: int = 0, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self.max_side = max_side
        self._dis = cv2.DISOpticalFlow_create(preset)

    def scale(self, shape: tuple[int, ...]) -> float:
        """The factor (<= 1) the images are resized by before the flow is computed."""
        side = max(shape[:2])
        return 1.0 if not self.max_side or side <= self.max_side else self.max_side / side

    def small(self, image: np.ndarray) -> np.ndarray:
        """`image` at the flow's working size (area averaging)."""
        s = self.scale(image.shape)
        if s == 1.0:
            return image
        h, w = image.shape[:2]
        size = (max(1, round(w * s)), max(1, round(h * s)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def at_working_size(self, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
        """Flow frm -> to for uint8 images already at the working size."""
        return self._dis.calc(frm, to, None)

    def __call__(self, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
        """uint8 [H, W] lightness images -> flow [H, W, 2] with frm(p) ~ to(p + flow(p))."""
        return upscale_flow(self.at_working_size(self.small(frm), self.small(to)), frm.shape)


def upscale_flow(flow: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A flow computed on a resized image -> the flow at `shape`'s size, in its pixels."""
    h, w = shape[:2]
    if flow.shape[:2] == (h, w):
        return flow
    big = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= w / flow.shape[1]
    big[..., 1] *= h / flow.shape[0]
    return big


def warp(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """image sampled at p + flow(p), bilinear -> (warped [H, W, ...] float32, inside [H, W]
    bool: whether p + flow(p) falls inside the image)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    warped = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), mx, my,
                       interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return warped, inside


def occluded(back: np.ndarray, fwd: np.ndarray, boundaries: bool = True) -> np.ndarray:
    """Pixels of frame t whose motion is unreliable: bool [H, W].

    back: flow t -> t-1, fwd: flow t-1 -> t. Forward-backward check (Sundaram et al. 2010):
    |back + fwd(p + back)|^2 > 0.01 (|back|^2 + |fwd(p + back)|^2) + 0.5; with
    `boundaries`, also motion boundaries: |grad back|^2 > 0.01 |back|^2 + 0.002. These are
    the thresholds of Lai et al.'s evaluation code (fast_blind_video_consistency).
    Pixels whose flow leaves the frame count as occluded.
    """
    fwd_w, inside = warp(fwd, back)
    total = back + fwd_w
    mag = lambda f: f[..., 0] ** 2 + f[..., 1] ** 2  # noqa: E731
    bad = mag(total) > 0.01 * (mag(back) + mag(fwd_w)) + 0.5
    if boundaries:
        du = np.zeros_like(back)
        dv = np.zeros_like(back)
        du[:, :-1] = back[:, :-1] - back[:, 1:]
        dv[:-1, :] = back[:-1, :] - back[1:, :]
        grad = (du ** 2 + dv ** 2).sum(-1)
        bad |= grad > 0.01 * mag(back) + 0.002
    return bad | ~inside


def histogram(L: np.ndarray) -> np.ndarray:
    """Lightness [H, W] in [0, 100] -> its normalized histogram [HISTOGRAM_BINS]."""
    counts, _ = np.histogram(L, bins=HISTOGRAM_BINS, range=(0.0, 100.0))
    return counts / max(counts.sum(), 1)


def histogram_change(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation between two normalized histograms: 0 (same) .. 1 (disjoint)."""
    return 0.5 * float(np.abs(a - b).sum())


class Shots:
    """Frames' lightness in order -> whether each starts a new shot: TemporalFilter's rule
    (the histogram at the flow's working size moved by more than `scene_cut` from the
    previous frame's; frame 0 starts one), for what must be decided before the model runs
    (film.FrameColorizer's choice of reference photo). `starts` lists the shots' first
    frames."""

    def __init__(self, cfg: config.TemporalConfig):
        self.scene_cut = cfg.scene_cut
        self._flow = Flow(cfg.flow_side)
        self._hist: np.ndarray | None = None
        self.frames = 0
        self.starts: list[int] = []

    def __call__(self, L: np.ndarray) -> bool:
        """L [H, W] in [0, 100] -> whether this frame starts a shot."""
        hist = histogram(self._flow.small(np.asarray(L, np.float32)))
        new = self._hist is None or histogram_change(self._hist, hist) > self.scene_cut
        if new:
            self.starts.append(self.frames)
        self._hist = hist
        self.frames += 1
        return new


class TemporalFilter:
    """Feed the frames of one video in order: ab = filter(L, ab_predicted).

    Keeps the previous frame's lightness and output colour. `cuts` lists the frames where
    a new shot started (frame 0 included), `carried` the mean blend weight per frame.
    """

    def __init__(self, cfg: config.TemporalConfig):
        self.cfg = cfg
        self._flow = Flow(cfg.flow_side)
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # small L u8, hist, ab
        self.frames = 0
        self.cuts: list[int] = []
        self.carried: list[float] = []

    def __call__(self, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """L [H, W] in [0, 100], ab [H, W, 2] predicted -> ab [H, W, 2] to show."""
        L = np.asarray(L, np.float32)
        ab = np.asarray(ab, np.float32)
        small = self._flow.small(L)
        small_u8, hist = to_u8(small), histogram(small)
        out = ab
        if self.cfg.temporal == "none" or self.cfg.temporal_keep == 0:
            self.carried.append(0.0)
        elif self._prev is None or histogram_change(self._prev[1], hist) > self.cfg.scene_cut:
            self.cuts.append(self.frames)
            self.carried.append(0.0)
        else:
            prev_u8, _, prev_ab = self._prev
            back = self._flow.at_working_size(small_u8, prev_u8)
            fwd = self._flow.at_working_size(prev_u8, small_u8)
            came_from, _ = warp(prev_u8.astype(np.float32) / 2.55, back)
            dL = small - came_from
            weight = (self.cfg.temporal_keep * ~occluded(back, fwd, boundaries=False)
                      * np.exp(-0.5 * (dL / self.cfg.temporal_gate) ** 2)).astype(np.float32)
            if weight.shape != L.shape:
                weight = cv2.resize(weight, L.shape[::-1], interpolation=cv2.INTER_LINEAR)
            carried, _ = warp(prev_ab, upscale_flow(back, L.shape))
            out = ab + weight[..., None] * (carried - ab)
            self.carried.append(float(weight.mean()))
        self._prev = (small_u8, hist, out)
        self.frames += 1
        return out


class WarpingError:
    """Flicker as Lai et al. (ECCV 2018) measure it, accumulated over a video's frames.

    For each pair of consecutive frames: the flow t -> t-1 and t-1 -> t on the reference
    frames' lightness (the input or the true colour video: the motion the viewer sees),
    occlusions and motion boundaries masked out (`occluded`), then the mean squared
    difference, per RGB channel in [0, 1], between frame t and frame t-1 warped to t,
    over the unmasked pixels. The video's error is the mean over its pairs. Flow here is
    DIS's medium preset at full size: not the (fast, reduced-size) flow `TemporalFilter`
    follows, so a method is not scored by its own motion estimate. A pair across a scene
    cut of the reference (`TemporalConfig.scene_cut`) has no motion to follow: it is
    skipped and counted in `cuts`.
    """

    def __init__(self, scene_cut: float = config.TemporalConfig().scene_cut):
        self.scene_cut = scene_cut
        self._flow = Flow(0, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._prev: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None
        self._sums: dict[str, float] = {}
        self.pairs = 0
        self.cuts = 0
        self.cut_frames: list[int] = []  # the first frame of each new shot after the first
        self._frames = 0
        self.masked: list[float] = []  # fraction of each pair's pixels masked out

    def add(self, reference_L: np.ndarray, videos: dict[str, np.ndarray]) -> None:
        """The next frame: reference lightness [H, W] in [0, 100] and, per video name,
        its frame as RGB float [H, W, 3] in [0, 1]."""
        reference_L = np.asarray(reference_L, np.float32)
        ref, hist = to_u8(reference_L), histogram(reference_L)
        if self._prev is not None and histogram_change(self._prev[1], hist) > self.scene_cut:
            self.cuts += 1
            self.cut_frames.append(self._frames)
        elif self._prev is not None:
            prev_ref, _, prev_videos = self._prev
            back, fwd = self._flow(ref, prev_ref), self._flow(prev_ref, ref)
            keep = ~occluded(back, fwd)
            n = int(keep.sum())
            self.masked.append(1 - n / keep.size)
            for name, frame in videos.items():
                warped, _ = warp(prev_videos[name], back)
                sq = (np.asarray(frame, np.float32) - warped) ** 2
                # No pixel unmasked (all occluded or motion boundary): the pair adds 0, as
                # in Lai et al.'s code (masked difference 0, divided by the frame's size).
                err = sq[keep].mean() if n else 0.0
                self._sums[name] = self._sums.get(name, 0.0) + float(err)
            self.pairs += 1
        self._prev = (ref, hist, {k: np.asarray(v, np.float32) for k, v in videos.items()})
        self._frames += 1

    def result(self) -> dict[str, float]:
        """Video name -> its warping error (mean over frame pairs); {} for < 2 frames."""
        return {k: v / self.pairs for k, v in self._sums.items()} if self.pairs else {}
