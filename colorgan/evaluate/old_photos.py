"""Old-photo evaluation (evaluate.py --degrade=old_photo[,scale=N]).

The protocol's crops of the photos (shorter side to `size`, centre square) are turned into
old-photo scans at 1/N of the size (restoration.old_photo_pairs, fixed seed), and every
method answers with a colour photo at the full size, scored against the clean crop:

  degraded   the scan itself, bicubic to size, gray (what the user starts from)
  colorize   the colorizer without restoration on that bicubic upscale (colorize.py today)
  classical  autocontrast (0.5 / 99.5 percentiles) + 3x3 median + bicubic, then colorize
  colorgan   restore (+ upscale N) and colour: colorize.py --restore [--upscale=N]

Scores: PSNR, SSIM, LPIPS on RGB, PSNR / SSIM on the lightness alone (L*, 0..255), and
the defect residue (restoration.defect_residue: what is left of the drawn dust, hairs and
scratches, in gray levels; 0 = gone). With a defect finder, its precision and recall
against the drawn masks. The same again on the UNSEEN family (a degradation never trained
on) under unseen/. Writes metrics.json, per_image.csv and comparison.png (scan | mask |
colorize | restored + colour | truth).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import color, fileio
from colorgan.config import DegradeConfig
from colorgan.data import sources
from colorgan.errors import UserError
from colorgan.evaluate import metrics, protocol, restoration, sheets
from colorgan.models import restorer as restorer_lib
from colorgan.progress import Progress
from colorgan.serve.opener import ColorizeFn

METHODS = ("degraded", "colorize", "classical", "colorgan")
SEED = 2024  # the scans' seed: the restorer's validation uses the same
# The family kept out of training (DegradeConfig.halftone is 0 there): every scan of the
# "unseen" set is a halftone print (a newspaper's screen) besides the usual chain.
UNSEEN = {"halftone": 1.0}


def parse_spec(spec: str) -> int:
    """"old_photo" or "old_photo,scale=N" -> N; one UserError line otherwise."""
    name, *options = spec.split(",")
    scale = 1
    for option in options:
        key, _, value = option.partition("=")
        if key != "scale" or not value.isdigit():
            raise UserError(f"--degrade={spec}: options are scale=1|2|4")
        scale = int(value)
    if name != "old_photo":
        raise UserError(f"--degrade={spec}: the degradation is old_photo[,scale=N]")
    if scale not in restorer_lib.SCALES:
        raise UserError(f"--degrade={spec}: scale must be one of "
                        f"{', '.join(map(str, restorer_lib.SCALES))}")
    return scale


def median3(L: tf.Tensor) -> tf.Tensor:
    """[B, H, W, 1] -> its 3x3 median (edges repeated)."""
    padded = tf.pad(L, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    h, w = tf.shape(L)[1], tf.shape(L)[2]
    shifted = [padded[:, dy:dy + h, dx:dx + w, :] for dy in range(3) for dx in range(3)]
    return tf.sort(tf.concat(shifted, axis=-1), axis=-1)[..., 4:5]


def classical(scan: tf.Tensor, scale: int) -> tf.Tensor:
    """The classical fix of a scan [B, h, w, 1] in [-1, 1]: autocontrast, 3x3 median,
    bicubic to scale x -> [B, scale h, scale w, 1]."""
    lv = restorer_lib.levels(scan)
    lo, hi = lv[:, None, None, :1], lv[:, None, None, 1:]
    stretched = tf.clip_by_value((scan - lo) / tf.maximum(hi - lo, 1e-3) * 2.0 - 1.0, -1.0, 1.0)
    return tf.clip_by_value(restoration.upscale(median3(stretched), scale), -1.0, 1.0)


def _scores(rgb: tf.Tensor, truth: tf.Tensor, lpips) -> dict[str, np.ndarray]:
    a, b = rgb * 255.0, truth * 255.0
    La = restoration.lightness_255(color.lightness(rgb)[..., :1] / 50.0 - 1.0)
    Lb = restoration.lightness_255(color.lightness(truth)[..., :1] / 50.0 - 1.0)
    out = {"psnr": metrics.psnr(a, b).numpy(), "ssim": metrics.ssim(a, b).numpy(),
           "l_psnr": metrics.psnr(La, Lb).numpy(), "l_ssim": metrics.ssim(La, Lb).numpy()}
    out["lpips"] = lpips(a, b).numpy() if lpips else np.full(len(out["psnr"]), np.nan)
    return out


def mask_overlay(scan: tf.Tensor, drawn: tf.Tensor, found: tf.Tensor | None) -> np.ndarray:
    """The sheet's mask column: the scan [B, H, W, 1] (model range) in gray, the drawn
    defects [B, h, w, 1] in red, the found ones in green (yellow where both) -> RGB [B, H, W, 3]."""
    size = tf.shape(scan)[1:3]
    gray = (scan + 1.0) / 2.0 * 0.6  # dimmed, so that the colours stand out
    red = tf.image.resize(drawn, size, method="nearest")
    green = tf.zeros_like(red) if found is None else tf.image.resize(found, size, "nearest")
    return tf.concat([tf.maximum(gray, red), tf.maximum(gray, green),
                      gray * (1.0 - tf.maximum(red, green))], axis=-1).numpy()


def _score_set(restoring, plain, pairs, lpips, scale: int, finder, sheet_rows: int, bar):
    """Scores every method on `pairs` (scan, mask, truth) -> (rows, sheet columns, finder
    counts {tp, fp, fn} in scan pixels)."""
    rows: list[dict] = []
    cols: dict[str, list] = {"scan": [], "mask (red drawn, green found)": [], "colorize": [],
                             "restored + colour": [], "truth": []}
    counts = {"tp": 0.0, "fp": 0.0, "fn": 0.0}
    for scan, mask, truth in pairs:
        up = tf.clip_by_value(restoration.upscale(scan, scale), -1.0, 1.0)
        answers = {"degraded": color.gray_rgb(up),
                   "colorize": tf.constant(plain(color.gray_rgb(up).numpy(), 0)),
                   "classical": tf.constant(plain(color.gray_rgb(classical(scan, scale)).numpy(), 0)),
                   "colorgan": tf.constant(restoring(color.gray_rgb(scan).numpy(), 0))}
        scores = {k: _scores(v, truth, lpips) for k, v in answers.items()}
        truth_L = restoration.truth_lightness(truth)
        for k, v in answers.items():
            scores[k]["residue"] = restoration.defect_residue(
                restoration.truth_lightness(v), truth_L, mask).numpy()
        found = None
        if finder is not None:
            found = finder(scan)
            counts["tp"] += float(tf.reduce_sum(found * mask))
            counts["fp"] += float(tf.reduce_sum(found * (1.0 - mask)))
            counts["fn"] += float(tf.reduce_sum((1.0 - found) * mask))
        overlay = mask_overlay(up, mask, found)
        for i in range(int(truth.shape[0])):
            row = {"image": len(rows)}
            for method, s in scores.items():
                row.update({f"{method}_{m}": float(v[i]) for m, v in s.items()})
            rows.append(row)
            if len(cols["truth"]) < sheet_rows:
                for key, value in zip(cols, (answers["degraded"][i].numpy(), overlay[i],
                                             answers["colorize"][i].numpy(),
                                             answers["colorgan"][i].numpy(), truth[i].numpy())):
                    cols[key].append(value)
            bar.update(str(row["image"]))
    return rows, cols, counts


def _summary(rows: list[dict]) -> dict:
    """Each method's means over the photos; NaNs (no LPIPS, a photo without defects) left out."""
    def mean(values):
        values = [v for v in values if not np.isnan(v)]
        return round(float(np.mean(values)), 4) if values else float("nan")

    return {method: {m: mean([r[f"{method}_{m}"] for r in rows])
                     for m in ("psnr", "ssim", "lpips", "l_psnr", "l_ssim", "residue")}
            for method in METHODS}


def evaluate(restoring: ColorizeFn, plain: ColorizeFn, source: sources.ImageSource,
             output_dir: fileio.PathLike, *, scale: int = 1, size: int = 256,
             batch_size: int = 8, limit: int | None = None, use_lpips: bool = True,
             sheet_rows: int = 6, title: str = "colorgan",
             degradation: DegradeConfig = DegradeConfig(), finder=None,
             unseen: bool = True) -> dict:
    """Scores the four methods (module docstring); `restoring` is the model opened with
    restore (and upscale=scale), `plain` the same without. `finder` (scan [B, h, w, 1] ->
    found defect mask, same shape) adds its precision and recall against the drawn masks.
    `unseen` scores the scans of UNSEEN too (result["unseen"], unseen/comparison.png).
    Returns metrics.json's dict."""
    output_dir = fileio.fspath(output_dir)
    fileio.makedirs(output_dir)
    lpips = metrics.LPIPS.shipped() if use_lpips else None
    total = min(source.size or 0, limit or source.size or 0)
    sets = {"": degradation}
    if unseen:
        sets["unseen"] = dataclasses.replace(degradation, **UNSEEN)
    result = {"size": size, "scale": scale, "seed": SEED, "data": source.spec}
    for name, degrade_cfg in sets.items():
        bar = Progress(total, label=f"old photos{' ' + name if name else ''} ")
        pairs = restoration.old_photo_pairs(source, size=size, scale=scale, seed=SEED,
                                            degradation=degrade_cfg, batch_size=batch_size,
                                            limit=limit, with_mask=True)
        rows, cols, counts = _score_set(restoring, plain, pairs, lpips, scale, finder,
                                        sheet_rows, bar)
        if not rows:
            raise UserError(f"source={source.spec}: no images to evaluate")
        summary = {"n": len(rows), **_summary(rows)}
        if finder is not None:
            summary["finder"] = {
                "precision": round(counts["tp"] / max(counts["tp"] + counts["fp"], 1.0), 4),
                "recall": round(counts["tp"] / max(counts["tp"] + counts["fn"], 1.0), 4)}
        out = fileio.join(output_dir, name) if name else output_dir
        fileio.makedirs(out)
        if name:
            result[name] = summary
            protocol.write_tables(out, summary, rows)
        else:
            result.update(summary)
            main_rows = rows
        m, c = summary["colorgan"], summary["colorize"]
        sheets.save_sheet({k: np.stack(v) for k, v in cols.items()},
                          fileio.join(out, "comparison.png"),
                          title=f"{title}, old photos x{scale}{', ' + name if name else ''} "
                                f"(n={len(rows)}, {size}px)\n"
                                f"restore+colour: PSNR {m['psnr']:.2f}  SSIM {m['ssim']:.3f}  "
                                f"LPIPS {m['lpips']:.3f}  residue {m['residue']:.1f}\n"
                                f"colorize: PSNR {c['psnr']:.2f}  SSIM {c['ssim']:.3f}  "
                                f"LPIPS {c['lpips']:.3f}  residue {c['residue']:.1f}")
    protocol.write_tables(output_dir, result, main_rows)
    logging.info("wrote %s/metrics.json, per_image.csv, comparison.png", output_dir)
    return result


def super_resolution(r: restorer_lib.Restorer, source: sources.ImageSource, *,
                     size: int = 256, limit: int | None = None, flip: bool = True) -> dict:
    """SR papers' figure: L* PSNR / SSIM at x2 and x4 on clean bicubic-downscaled crops,
    the restorer (restore off; with the rendering's mirror averaging if `flip`, as
    colorize.py --upscale runs it) against bicubic, `scale` pixels of border left out as
    SR papers do (EDSR, SwinIR)."""
    def run(scan, s):
        def one(x):
            return r(x, s, restore=False, lv=restorer_lib.levels(scan))
        return restorer_lib.mirror_average(one, scan) if flip else one(scan)

    return {f"x{s}": restoration.lightness_scores(
        restoration.old_photo_pairs(source, size=size, scale=s, seed=SEED,
                                    degradation=restoration.CLEAN, limit=limit),
        lambda scan, s=s: run(scan, s), s, border=s)
        for s in restorer_lib.SCALES if s > 1}
