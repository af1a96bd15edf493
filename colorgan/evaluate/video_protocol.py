"""Score a colorizer on a video: flicker (warping error) and, for a colour clip, colour PSNR.

The clip's own frames are the reference: their lightness is what the model sees, their
motion is what the warping error follows, and where the clip is in colour its colour is
the truth. Each frame is predicted once; the prediction is then shown frame by frame
("none", the model's RGB as colorize.py --temporal=none writes it) and through the
temporal filter ("flow", rebuilt from the input's L: the same L, so the two differ by the
filter and a gamut clip).
The clip itself ("truth": its real flicker, the floor a method can reach with this
flow and mask) and its gray version ("grayscale") are scored alongside. With colour
reference photos (keyframes), "reference" is what colorize.py --reference writes: each shot
coloured from the reference it matches best, through the same filter; colour PSNR is also
given per shot, so a reference that colours a shot it does not show is seen.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np
from absl import logging

from colorgan import config, fileio
from colorgan.evaluate import sheets
from colorgan.progress import Progress
from colorgan.video import container
from colorgan.video.film import FrameColorizer, lab_join, lab_split
from colorgan.video.temporal import Shots, TemporalFilter, WarpingError

# Mean Lab chroma of the clip below which it counts as gray: no colour to score against
# (the same rule as data.open_source's min_chroma for photos).
MIN_CHROMA = 3.0
STRIP_FRAMES = 4


def _psnr(mse: float) -> float:
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def evaluate_video(model, path: str, output_dir: fileio.PathLike, *, render_size: int = 0,
                   temporal: config.TemporalConfig = config.TemporalConfig(),
                   batch_size: int = 8, limit: int | None = None, title: str = "",
                   references: Sequence[np.ndarray] = ()) -> dict:
    """Writes metrics.json and strip.png (frames of input | none | flow | reference | truth,
    and each video's middle row over time) to output_dir; returns the metrics.
    `references`: colour photos RGB [h, w, 3] in [0, 1] for the "reference" method."""
    info = container.probe(path)
    methods = (["none"] + (["flow"] if temporal.temporal == "flow" else [])
               + (["reference"] if references else []))
    filt = TemporalFilter(temporal)
    referenced = FrameColorizer(model, render_size, temporal, references) if references else None
    shots = Shots(temporal)
    shot_err: dict[str, list[float]] = {m: [] for m in methods}
    shot_n: list[int] = []
    warping = WarpingError(temporal.scene_cut)
    expected = info.expected_frames  # Matroska and WebM declare no count: from the duration
    total = min(expected, limit) if expected and limit else (limit or expected)
    bar = Progress(total, label="evaluate ", unit="frames")
    sq_err = {m: 0.0 for m in methods + ["grayscale"]}
    chroma, n = 0.0, 0
    kept: dict[str, list[np.ndarray]] = {}
    slices: dict[str, list[np.ndarray]] = {}
    try:
        for batch in container.read_frames(path, batch_size):
            if limit:
                batch = batch[:limit - n]
            frames = batch.astype(np.float32) / 255
            pred = np.asarray(model(frames, render_size), np.float32)
            L, ab = lab_split(frames, pred)
            _, ab_truth = lab_split(frames, frames)
            shown = {"input": lab_join(L, np.zeros_like(ab)), "none": pred}
            if "flow" in methods:
                shown["flow"] = lab_join(L, np.stack([filt(l, a) for l, a in zip(L, ab)]))
            if referenced is not None:
                shown["reference"] = referenced(frames)
            shown["truth"] = frames
            for i in range(len(frames)):
                if shots(L[i]):
                    shot_n.append(0)
                    for m in methods:
                        shot_err[m].append(0.0)
                shot_n[-1] += 1
                for m in methods:
                    shot_err[m][-1] += float(((shown[m][i] - frames[i]) ** 2).mean())
                warping.add(L[i], {k: v[i] for k, v in shown.items()})
                for k, v in shown.items():
                    slices.setdefault(k, []).append(v[i][v.shape[1] // 2])
            for m in methods:
                sq_err[m] += float(((shown[m] - frames) ** 2).mean(axis=(1, 2, 3)).sum())
            sq_err["grayscale"] += float(((shown["input"] - frames) ** 2).mean(axis=(1, 2, 3)).sum())
            chroma += float(np.hypot(ab_truth[..., 0], ab_truth[..., 1]).mean(axis=(1, 2)).sum())
            _keep_for_strip(kept, shown, n, total)
            n += len(frames)
            bar.update(path, len(frames))
            if limit and n >= limit:
                break
    finally:
        bar.finish()
    colour = chroma / n >= MIN_CHROMA
    errors = warping.result()
    result = {
        "video": str(path), "frames": n, "fps": float(info.fps),
        "size": [info.width, info.height], "temporal": temporal.temporal,
        # The filter's cuts; with --temporal=none the same rule on the same lightness.
        "scene_cuts": filt.cuts[1:] if "flow" in methods else warping.cut_frames,
        "pairs_scored": warping.pairs,
        "pairs_skipped_at_cuts": warping.cuts,
        "masked_fraction": float(np.mean(warping.masked)) if warping.masked else None,
        # Lai et al.'s E_warp: mean squared RGB difference per channel, [0, 1] scale.
        "warping_error": {k: errors.get(k) for k in methods + ["truth", "input"]},
        "colour_psnr": ({m: _psnr(sq_err[m] / n) for m in methods + ["grayscale"]}
                        if colour else None),
        # Per shot, in order: Shots on the input's lightness at the flow's working size, the
        # filter's rule (with --temporal=none, scene_cuts is WarpingError's full-size one).
        "shot_starts": shots.starts,
        "colour_psnr_by_shot": ({m: [_psnr(e / k) for e, k in zip(shot_err[m], shot_n)]
                                 for m in methods} if colour else None),
        "clip_chroma": chroma / n,
    }
    if "flow" in methods and errors.get("none"):
        result["warping_error_flow_vs_none"] = errors["flow"] / errors["none"]
    if referenced is not None:
        result["reference_per_shot"] = [{"frame": f, "reference": i + 1,
                                         "match": None if np.isnan(m) else m}
                                        for f, i, m in referenced.shots]
    output_dir = fileio.fspath(output_dir)
    fileio.makedirs(output_dir)
    fileio.write_text_atomic(fileio.join(output_dir, "metrics.json"),
                             json.dumps(result, indent=2) + "\n")
    _save_strip(kept, slices, fileio.join(output_dir, "strip.png"), result, title or str(path))
    logging.info("wrote %s/metrics.json, strip.png", output_dir)
    return result


def _keep_for_strip(kept: dict, shown: dict, start: int, total: int) -> None:
    """Keeps the frames the strip shows: STRIP_FRAMES evenly spaced over `total` (the
    first STRIP_FRAMES where the clip does not declare its length)."""
    want = (np.linspace(0, total - 1, STRIP_FRAMES).round().astype(int) if total
            else np.arange(STRIP_FRAMES))
    for i in range(len(shown["input"])):
        if start + i in want:
            for k, v in shown.items():
                kept.setdefault(k, []).append(v[i])


def _save_strip(kept: dict, slices: dict, path: str, result: dict, title: str) -> None:
    """Columns: input, each method, truth; rows: the kept frames, then the middle row of
    every frame stacked over time (time downwards: flicker shows as horizontal bands)."""
    cols = {}
    height = kept["input"][0].shape[0]
    for k in kept:
        name = {"none": "frame by frame", "flow": "--temporal=flow", "truth": "clip (truth)",
                "input": "input (gray)", "reference": "--reference"}.get(k, k)
        over_time = np.stack(slices[k])  # [frames, W, 3]
        # Rows repeated so a short clip's band is as tall as a frame (and visible).
        cols[name] = kept[k] + [np.repeat(over_time, max(1, height // len(over_time)), axis=0)]
    we = result["warping_error"]
    line = "  ".join(f"{k} {v * 1e3:.3f}" for k, v in we.items() if v is not None)
    psnr = result["colour_psnr"]
    line2 = ("  colour PSNR " + "  ".join(f"{k} {v:.2f}" for k, v in psnr.items())) if psnr else ""
    sheets.save_sheet(cols, path, title=f"{title}: warping error x1e-3: {line}\n{line2}"
                                        f"  (last row: middle line over time)")
