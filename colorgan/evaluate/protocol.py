"""Evaluate a colorizer on a set of photos, beside the grayscale baseline (ab = 0).

Protocol (ColTran / CT2): shorter side to `size`, centre crop, colorize from L, compare
with the crop. FID and KID (with an `fid.FIDNetwork`) compare the set of colorized crops,
as 8-bit images, with the set of true crops. Writes metrics.json, per_image.csv and a
comparison sheet to an output folder that may be remote (gs://...).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no backend, no global state
import tensorflow as tf
from absl import logging

from colorgan import color, fileio
from colorgan.data import input_pipeline, sources
from colorgan.errors import UserError
from colorgan.evaluate import fid_kid, inception, metrics, references, sheets
from colorgan.progress import Progress
from colorgan.serve.opener import ColorizeFn

_PER_IMAGE = ("psnr", "ssim", "lpips", "colourfulness", "chroma")


def _scores(pred: tf.Tensor, truth: tf.Tensor, lpips: metrics.LPIPS | None) -> dict:
    """RGB 0..255 batches -> {metric: [B] numpy}."""
    out = {"psnr": metrics.psnr(pred, truth).numpy(), "ssim": metrics.ssim(pred, truth).numpy(),
           "colourfulness": metrics.colourfulness(pred).numpy(),
           "chroma": metrics.mean_chroma(pred).numpy()}
    out["lpips"] = lpips(pred, truth).numpy() if lpips else np.full(len(out["psnr"]), np.nan)
    return out


def _summary(rows: list[dict], prefix: str) -> dict:
    cf = [r[f"{prefix}colourfulness"] for r in rows]
    chroma = [r[f"{prefix}chroma"] for r in rows]
    cf_truth = [r["truth_colourfulness"] for r in rows]
    chroma_truth = [r["truth_chroma"] for r in rows]
    out = {k: float(np.mean([r[f"{prefix}{k}"] for r in rows])) for k in _PER_IMAGE}
    out["delta_colourfulness"] = metrics.delta_colourfulness(cf, cf_truth)
    out["chroma_ratio"] = metrics.chroma_ratio(chroma, chroma_truth)
    if f"{prefix}l_psnr_input" in rows[0]:
        moved = [r[f"{prefix}l_psnr_input"] for r in rows]
        out["l_psnr_input"], out["l_psnr_input_worst"] = float(np.mean(moved)), float(np.min(moved))
    return {k: (None if isinstance(v, float) and math.isnan(v) else round(v, 4))
            for k, v in out.items()}


def score(model: ColorizeFn, source: sources.ImageSource, *, size: int = 256, render_size: int = 0,
          batch_size: int = 8, limit: int | None = None, lpips: metrics.LPIPS | None = None,
          sheet_rows: int = 0, progress: bool = False, hints: int = 0, reference: str = "",
          fid_network: fid_kid.FIDNetwork | None = None, lightness: bool = False
          ) -> tuple[list[dict], dict[str, list], dict[str, np.ndarray]]:
    """The protocol's per-image scores: ([row per image], sheet columns of the first rows,
    {"truth", "colorgan", "grayscale": FID features [N, 2048]} ({} without `fid_network`)).

    Each row holds the model's and the grayscale baseline's PSNR, SSIM, LPIPS (NaN without
    `lpips`), colourfulness and chroma, and the truth's colourfulness and chroma. `hints`
    > 0 reveals that many random patches of each photo's true colour to a hint model
    (Zhang et al.'s sweep), the same patches on every run with the same batch_size (seeded
    by N and the index of each batch's first photo). `reference` (references.KINDS) gives
    each photo a colour reference photo, seeded: a view of the same scene or of another photo
    (then the sheet has a reference column). `lightness` adds each answer's L* PSNR against
    the input's ("l_psnr_input": how far a model that restores moved the tones).
    """
    if reference and hints:
        raise UserError("reference and hints: evaluate one at a time")
    total = source.size if source.size is not None else (limit or 0)  # TFDS: unknown
    if limit is not None and total:
        total = min(total, limit)
    names = source.names  # file paths, or () for a stream: rows are then numbered
    bar = Progress(total, label="evaluate ") if progress else None
    rows: list[dict] = []
    sheet_cols: dict[str, list] = {"grayscale": [], **({"reference": []} if reference else {}),
                                   "colorgan": [], "ground truth": []}
    features: dict[str, list] = {"truth": [], "colorgan": [], "grayscale": []}
    for L, truth, views in _batches(source, size, batch_size, limit, reference):
        gray = color.gray_rgb(L)
        if reference:
            pred = tf.constant(model.with_reference(truth.numpy(), render_size, views.numpy()))
        elif hints:
            pred = tf.constant(model.reveal(truth.numpy(), render_size, hints, (len(rows), hints)))
        else:
            pred = tf.constant(model(truth.numpy(), render_size))
        scores = {"": _scores(pred * 255, truth * 255, lpips),
                  "baseline_": _scores(gray * 255, truth * 255, lpips)}
        if fid_network is not None:  # as 8-bit images, as saved photos would be scored
            for key, images in (("truth", truth), ("colorgan", pred), ("grayscale", gray)):
                features[key].append(fid_network.features(tf.round(images * 255)))
        if lightness:
            scores[""]["l_psnr_input"] = metrics.psnr(
                tf.clip_by_value(color.lightness(pred)[..., :1] * 2.55, 0.0, 255.0),
                tf.clip_by_value(color.lightness(truth)[..., :1] * 2.55, 0.0, 255.0)).numpy()
        truth_cf = metrics.colourfulness(truth * 255).numpy()
        truth_chroma = metrics.mean_chroma(truth * 255).numpy()
        for i in range(len(truth_cf)):
            index = len(rows)
            row = {"image": os.path.basename(names[index]) if index < len(names) else str(index),
                   "truth_colourfulness": float(truth_cf[i]), "truth_chroma": float(truth_chroma[i])}
            for prefix, s in scores.items():
                row.update({f"{prefix}{k}": float(v[i]) for k, v in s.items()})
            rows.append(row)
            if len(sheet_cols["colorgan"]) < sheet_rows:
                sheet_cols["grayscale"].append(gray[i].numpy())
                if reference:
                    sheet_cols["reference"].append(_letterbox(views[i].numpy(), size))
                sheet_cols["colorgan"].append(pred[i].numpy())
                sheet_cols["ground truth"].append(truth[i].numpy())
            if bar is not None and bar.total:
                bar.update(row["image"])
    if not rows:
        raise UserError(f"source={source.spec}: no images to evaluate")
    return rows, sheet_cols, {k: np.concatenate(v) for k, v in features.items() if v}


def _batches(source: sources.ImageSource, size: int, batch_size: int, limit: int | None,
             reference: str):
    """(L [B, S, S, 1], the true crops [B, S, S, 3], their references or None) batches."""
    if reference:
        for crops, views in references.pairs(source, reference, size=size,
                                             batch_size=batch_size, limit=limit):
            L, ab = input_pipeline.to_model(crops)
            yield L, color.model_to_rgb(L, ab), views
        return
    for L, ab in input_pipeline.eval_dataset(source, image_size=size, batch_size=batch_size,
                                             limit=limit):
        yield L, color.model_to_rgb(L, ab), None  # the crop via Lab and back (exact to 1e-4)


def _letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """An RGB [h, w, 3] of at most size x size, centred on white [size, size, 3]."""
    out = np.ones((size, size, 3), np.float32)
    h, w = image.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    out[top:top + h, left:left + w] = image
    return out


def summary(rows: list[dict], features: dict[str, np.ndarray] | None = None) -> dict:
    """{"colorgan": {...}, "grayscale_baseline": {...}}: the means, ΔCF and chroma ratio,
    and FID, KID and KID's spread over subsets where `score` gave features."""
    out = {"colorgan": _summary(rows, ""), "grayscale_baseline": _summary(rows, "baseline_")}
    if features:
        out["colorgan"].update(fid_kid.scores(features["truth"], features["colorgan"]))
        out["grayscale_baseline"].update(fid_kid.scores(features["truth"], features["grayscale"]))
    return out


def fid_protocol(n: int, size: int) -> dict:
    """What metrics.json's FID and KID were computed on: for comparing with papers."""
    return {"network": f"FID Inception-v3 pool_3 (TF 2015-12-05 graph; "
                       f"{inception.PACKAGE}=={inception.PINNED} default_1.pt)",
            "images": n, "reference": f"the same {n} photos' true {size}px centre crops",
            "input": f"8-bit {size}px crops resized to 299 (TF1 bilinear)",
            "kid_subsets": fid_kid.KID_SUBSETS, "kid_subset_size": fid_kid.kid_subset_size(n, paired=True)}


def evaluate(model: ColorizeFn, source: sources.ImageSource, output_dir: fileio.PathLike, *,
             size: int = 256, render_size: int = 0, batch_size: int = 8,
             limit: int | None = None, use_lpips: bool = True, sheet_rows: int = 6,
             title: str = "colorgan", hints: int = 0, reference: str = "",
             fid_network: fid_kid.FIDNetwork | None = None, lightness: bool = False) -> dict:
    """Runs the model over the source; returns (and writes) the summary metrics (FID and
    KID too with `fid_network`; `lightness`: score's)."""
    output_dir = fileio.fspath(output_dir)
    fileio.makedirs(output_dir)
    lpips = metrics.LPIPS.shipped() if use_lpips else None
    rows, sheet_cols, features = score(model, source, size=size, render_size=render_size,
                                       batch_size=batch_size, limit=limit, lpips=lpips,
                                       sheet_rows=sheet_rows, progress=True, hints=hints,
                                       reference=reference, fid_network=fid_network,
                                       lightness=lightness)
    if hints:
        title = f"{title}, {hints} hint(s)"
    if reference:
        title = f"{title}, reference: {reference}"
    result = {"n": len(rows), "size": size, "data": source.spec, "hints": hints,
              **({"reference": reference} if reference else {}), **summary(rows, features)}
    if features:
        result["fid_protocol"] = fid_protocol(len(rows), size)
    write_tables(output_dir, result, rows)
    m, b = result["colorgan"], result["grayscale_baseline"]
    lp = f"  LPIPS {m['lpips']:.3f}" if m["lpips"] is not None else ""
    sheets.save_sheet({k: np.stack(v) for k, v in sheet_cols.items()},
                      fileio.join(output_dir, "comparison.png"),
                      title=f"{title}: PSNR {m['psnr']:.2f}  SSIM {m['ssim']:.3f}{lp}  "
                            f"dCF {m['delta_colourfulness']:.1f}  chroma x{m['chroma_ratio']:.2f}\n"
                            f"grayscale: PSNR {b['psnr']:.2f}  dCF {b['delta_colourfulness']:.1f}"
                            f"  (n={len(rows)}, {size}px){_fid_text(m, b)}")
    logging.info("wrote %s/metrics.json, per_image.csv, comparison.png", output_dir)
    return result


def write_tables(output_dir: str, result: dict, rows: list[dict]) -> None:
    """metrics.json (the summary) and per_image.csv (one row per image), each atomically."""
    fileio.write_text_atomic(fileio.join(output_dir, "metrics.json"),
                             json.dumps(result, indent=2) + "\n")
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    fileio.write_text_atomic(fileio.join(output_dir, "per_image.csv"), table.getvalue())


def _fid_text(model: dict, gray: dict) -> str:
    """A sheet title's third line, "FID 80.1 (gray 92.6)  KID 5.9e-3 (gray 16.6e-3)", or ""
    where FID was not computed."""
    if model.get("fid") is None:
        return ""

    def kid(scores):
        return "n/a" if scores["kid"] is None else f"{scores['kid'] * 1e3:.1f}e-3"

    return (f"\nFID {model['fid']:.1f} (gray {gray['fid']:.1f})  "
            f"KID {kid(model)} (gray {kid(gray)})")


def write_hint_sweep(sweep: dict[int, dict], output_dir: fileio.PathLike, title: str) -> None:
    """{N: evaluate()'s result} -> hints_sweep.json and hints_sweep.png (PSNR against the
    number of revealed hints, as Zhang et al. plot it, with the grayscale baseline)."""
    output_dir = fileio.fspath(output_dir)
    counts = sorted(sweep)
    table = {str(n): {k: sweep[n]["colorgan"][k] for k in ("psnr", "ssim", "lpips")}
             for n in counts}
    gray = sweep[counts[0]]["grayscale_baseline"]["psnr"]
    fileio.write_text_atomic(fileio.join(output_dir, "hints_sweep.json"), json.dumps(
        {"data": sweep[counts[0]]["data"], "n": sweep[counts[0]]["n"], "psnr_by_hints": table,
         "grayscale_psnr": gray}, indent=2) + "\n")
    fig = Figure(figsize=(5, 3.4))
    ax = fig.subplots()
    x = [max(n, 0.5) for n in counts]  # log axis: 0 hints drawn at 0.5
    ax.plot(x, [sweep[n]["colorgan"]["psnr"] for n in counts], "o-", label="colorgan")
    ax.axhline(gray, color="gray", linestyle="--", label="grayscale")
    ax.set_xscale("log")
    ax.set_xticks(x, [str(n) for n in counts])
    ax.set_xlabel("revealed hints per photo")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{title}: {sweep[counts[0]]['data']}", fontsize=9)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    fileio.write_bytes_atomic(fileio.join(output_dir, "hints_sweep.png"), buf.getvalue())
