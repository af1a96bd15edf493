"""bench.py --figures=archive: photos/s over a tree of mixed photos (0.3-4 MP JPEGs made from
the shipped photos), as a user runs them: colorize.py (and an earlier checkout's, for
before/after), in bf16, with a LiteRT int8 model, and the Beam pipeline on 1 and 2 DirectRunner
workers. Each run is a fresh process; photos/s = photos / wall seconds, start-up included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import logging
from PIL import Image

from colorgan.data import folders

ROOT = Path(__file__).resolve().parents[2]


def make_tree(folder: Path, count: int, seed: int = 0, low_mp: float = 0.3,
              high_mp: float = 4.0) -> Path:
    """`count` JPEGs (quality 90) of the shipped photos resized to log-uniform 0.3-4 MP, in
    10 subfolders of folder/COUNT-SEED, which is returned; kept and reused once made."""
    folder = folder / f"{count}-{seed}"  # another count is another tree
    done = folder / ".made"
    if done.exists():
        return folder
    paths = folders.list_image_files(folders.SAMPLES_DIR)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = Image.open(paths[i % len(paths)]).convert("RGB")
        mp = float(np.exp(rng.uniform(np.log(low_mp), np.log(high_mp))))
        scale = (mp * 1e6 / (image.width * image.height)) ** 0.5
        out = folder / f"d{i % 10}" / f"p{i:05d}.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        image.resize((round(image.width * scale), round(image.height * scale)),
                     Image.BICUBIC).save(out, quality=90)
    done.touch()
    return folder


def _run(args: list[str], cwd: Path) -> float:
    """Seconds for one command (a fresh process); raises on failure."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def archive_speed(tree: Path, count: int, before: str = "", kinds: tuple[str, ...] = (
        "colorize", "batch4", "bf16", "litert_int8", "beam1", "beam2")) -> list[dict]:
    """Figures for colorizing `tree` (`count` photos) with the shipped model; `before`: a
    checkout of an earlier colorgan whose colorize.py runs first, in the same run."""
    py = sys.executable
    tree = Path(tree).resolve()  # the before-run works in another folder
    figures = []
    scratch = Path(tempfile.mkdtemp(prefix="colorgan-archive-bench-"))
    commands = {
        "before": ([py, "colorize.py", str(tree)], Path(before) if before else None),
        "colorize": ([py, "colorize.py", str(tree)], ROOT),
        "batch4": ([py, "colorize.py", str(tree), "--photo_batch=4"], ROOT),
        "bf16": ([py, "colorize.py", str(tree), "--precision=bf16"], ROOT),
        "litert_int8": ([py, "colorize.py", str(tree), f"--model={scratch / 'int8'}"], ROOT),
        "beam1": ([py, "-m", "colorgan.beam", f"--input={tree}", "--runner=DirectRunner",
                   "--direct_num_workers=1"], ROOT),
        "beam2": ([py, "-m", "colorgan.beam", f"--input={tree}", "--runner=DirectRunner",
                   "--direct_num_workers=2", "--direct_running_mode=multi_processing"], ROOT),
    }
    try:
        if "litert_int8" in kinds:
            _run([py, "export.py", "--model=pretrained", "--format=tflite", "--quantize=dynamic",
                  f"--export_dir={scratch / 'int8'}"], ROOT)
        for kind in (("before",) if before else ()) + tuple(kinds):
            args, cwd = commands[kind]
            out = scratch / kind
            logging.info("archive %s: %d photos", kind, count)
            seconds = _run(args + [f"--output_dir={out}"], cwd)
            figures.append({"figure": "archive", "kind": kind, "photos": count,
                            "seconds": round(seconds, 1),
                            "photos_per_s": round(count / seconds, 3),
                            # bench.py's table columns
                            "preset": f"shipped, {kind}", "size": "0.3-4 MP",
                            "precision": {"litert_int8": "int8", "bf16": "bf16"}.get(kind,
                                                                                    "fp32"),
                            "batch": 4 if kind == "batch4" else 1,
                            "median": round(count / seconds, 3), "unit": "photos/s"})
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base = next((f for f in figures if f["kind"] == "before"), None)
    for f in figures:
        if base:
            f["vs_before"] = round(f["photos_per_s"] / base["photos_per_s"], 2)
    return figures
