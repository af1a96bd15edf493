"""The entry scripts as a user runs them: subprocesses, exit codes, files on disk."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--log_every=1000", "--image_every=1000"]


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if " error: " in line]


def test_train_on_missing_path_exits_2_with_one_line(tmp_path):
    missing = tmp_path / "no_such_folder"
    proc = run("train.py", "--preset=tiny", f"--workdir={tmp_path / 'w'}", f"--data={missing}")
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc.stderr) == [f"train.py: error: --data: {missing} does not exist"]
    assert "Traceback" not in proc.stderr


def test_train_on_folder_without_images_exits_2(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    proc = run("train.py", "--preset=tiny", f"--workdir={tmp_path / 'w'}",
               f"--data={tmp_path / 'photos'}")
    assert proc.returncode == 2
    assert len(error_lines(proc.stderr)) == 1 and "no usable colour image" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_train_tiny_writes_checkpoint_and_events_then_resumes(tmp_path):
    workdir = tmp_path / "run"
    proc = run("train.py", "--preset=tiny", "--steps=3", f"--workdir={workdir}", *QUIET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-3")
    assert list((workdir / "tb").glob("events.out.tfevents.*"))
    assert (workdir / "sample_sheet.png").stat().st_size > 0
    assert "step 3/3" in proc.stderr and "img/s" in proc.stderr and "ETA" in proc.stderr
    proc = run("train.py", "--preset=tiny", "--steps=5", f"--workdir={workdir}", *QUIET)
    assert proc.returncode == 0
    assert "resuming at step 3 of 5" in proc.stderr
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-5")


def test_sigterm_saves_a_checkpoint_and_a_rerun_resumes(tmp_path):
    workdir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--preset=tiny", "--steps=100000", "--log_every=1",
         "--checkpoint_every=100000", "--image_every=100000", f"--workdir={workdir}"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    for line in proc.stderr:  # wait until training is under way
        if "step 5/100000" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM, rest[-2000:]
    assert "checkpoint saved" in rest
    saved = int(tf.train.latest_checkpoint(str(workdir / "checkpoints")).rsplit("-", 1)[1])
    assert saved >= 5
    proc = run("train.py", "--preset=tiny", f"--steps={saved + 2}", f"--workdir={workdir}", *QUIET)
    assert proc.returncode == 0 and f"resuming at step {saved} of {saved + 2}" in proc.stderr


def test_bad_flag_value_is_one_line(tmp_path):
    proc = run("train.py", "--preset=nope", f"--workdir={tmp_path}")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        f"train.py: error: --preset='nope' is unknown; choose one of {sorted(config.PRESETS)}"]
    proc = run("train.py", "--preset=tiny", "--image_size=48", f"--workdir={tmp_path}")
    assert proc.returncode == 2 and "image_size=48" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A tiny model trained for 2 steps by train.py and exported by export.py: (workdir, export)."""
    root = tmp_path_factory.mktemp("tiny")
    workdir = root / "run"
    assert run("train.py", "--preset=tiny", "--steps=2", f"--workdir={workdir}", *QUIET).returncode == 0
    proc = run("export.py", f"--workdir={workdir}", f"--export_dir={root / 'export'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(root / "export" / "1")
    return workdir, root / "export"


def test_export_then_colorize_folder_keeps_sizes_exif_and_inputs(tiny_export, tmp_path):
    from PIL import Image
    workdir, export = tiny_export

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(photos / "a.png")
    Image.fromarray(rng.integers(0, 256, (21, 17), dtype=np.uint8)).save(photos / "sub" / "g.jpg")
    rotated = Image.fromarray(rng.integers(0, 256, (20, 40, 3), dtype=np.uint8))
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    rotated.save(photos / "r.jpg", exif=exif)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    original = (photos / "a.png").read_bytes()

    # Output into the input folder, same format: a.png must not be overwritten.
    proc = run("colorize.py", f"--model={export}", f"--output_dir={photos}",
               str(photos))
    assert proc.returncode == 1  # broken.jpg failed
    assert "failed:" in proc.stdout and "broken.jpg" in proc.stdout
    assert (photos / "a.png").read_bytes() == original
    assert Image.open(photos / "a_colorized.png").size == (50, 30)
    assert Image.open(photos / "sub" / "g.png").size == (17, 21)
    assert Image.open(photos / "r.png").size == (20, 40)  # EXIF-rotated: 40x20 stored, 20x40 shown
    assert Image.open(photos / "r.png").mode == "RGB"
    assert "img/s" in proc.stderr

    # From the workdir directly, JPEG output, a glob.
    proc = run("colorize.py", f"--model={workdir}", f"--output_dir={tmp_path / 'out'}",
               "--format=jpg", str(photos / "*.png"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "a_colorized.jpg", "r.jpg"]


def test_export_and_colorize_bad_paths_exit_2(tmp_path):
    proc = run("export.py", f"--workdir={tmp_path / 'nope'}", f"--export_dir={tmp_path / 'e'}")
    assert proc.returncode == 2 and len(error_lines(proc.stderr)) == 1
    assert "Traceback" not in proc.stderr
    proc = run("colorize.py", f"--model={tmp_path / 'nope'}", f"--output_dir={tmp_path / 'o'}", "x.jpg")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [f"colorize.py: error: --model: {tmp_path / 'nope'} does not exist"]


def test_evaluate_writes_metrics_csv_sheet_with_baseline(tiny_export, tmp_path):
    import csv
    import json
    _, export = tiny_export
    out = tmp_path / "eval"
    proc = run("evaluate.py", f"--model={export}", "--data=samples:val", "--limit=5", "--size=64",
               f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "metrics.json").read_text())
    assert result["n"] == 5
    for row in ("colorgan", "grayscale_baseline"):
        assert set(result[row]) >= {"psnr", "ssim", "lpips", "colourfulness",
                                    "delta_colourfulness", "chroma_ratio"}
        assert 5 < result[row]["psnr"] < 60 and 0 < result[row]["ssim"] <= 1
    assert result["grayscale_baseline"]["chroma_ratio"] < 0.01  # ab = 0 has no chroma
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert len(rows) == 5 and rows[0]["image"].endswith(".jpg")
    assert abs(np.mean([float(r["psnr"]) for r in rows]) - result["colorgan"]["psnr"]) < 1e-3
    assert (out / "comparison.png").stat().st_size > 0
    assert "img/s" in proc.stderr


def test_evaluate_on_folder_without_images_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run("evaluate.py", f"--model={tmp_path}", f"--data={tmp_path / 'empty'}",
               f"--output_dir={tmp_path / 'out'}")
    assert proc.returncode == 2 and len(error_lines(proc.stderr)) == 1
    assert "no image files" in proc.stderr and "Traceback" not in proc.stderr


def test_make_tfrecords_then_train_on_them(tmp_path):
    prefix = tmp_path / "records" / "val"
    proc = run("make_tfrecords.py", "--data=samples:val", f"--output={prefix}", "--shard_mb=0.5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    shards = sorted(p.name for p in prefix.parent.iterdir())
    assert len(shards) >= 2 and shards[0] == f"val-00000-of-{len(shards):05d}.tfrecord"
    assert "img/s" in proc.stderr and "46/46" in proc.stderr
    again = run("make_tfrecords.py", "--data=samples:val", f"--output={prefix}")
    assert again.returncode == 2 and "exist already" in again.stderr
    workdir = tmp_path / "run"
    proc = run("train.py", "--preset=tiny", "--steps=2", f"--workdir={workdir}",
               f"--data=tfrecord:{prefix}-*", *QUIET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "a stream of" in proc.stderr
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-2")


def test_bench_prints_a_json_line_per_figure(tmp_path):
    out = tmp_path / "bench.jsonl"
    proc = run("bench.py", "--presets=tiny", "--precisions=fp32,bf16", "--repeats=2", "--steps=2",
               "--figures=train,l1,pipeline,serving", "--l1_steps=3", f"--output={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json
    figures = [json.loads(line) for line in out.read_text().splitlines()]
    names = [(f["figure"], f.get("precision")) for f in figures]
    assert names == [("machine", None), ("train", "fp32"), ("train", "bf16"),
                     ("l1_short_run", "fp32"), ("l1_short_run", "bf16"),
                     ("input_pipeline", "fp32"), ("serving_256x256", "fp32"),
                     ("serving_1MP", "fp32")]
    for f in figures[1:]:
        assert f["median"] > 0 and f["size"] == 32
        assert len(f["runs"]) == 1 if f["figure"] == "l1_short_run" else len(f["runs"]) >= 2
    l1 = [f["median"] for f in figures if f["figure"] == "l1_short_run"]
    assert abs(l1[0] - l1[1]) < 0.05 * l1[0], l1  # bf16 follows fp32's trajectory
    assert "| train | tiny | bf16 | 32 | 4 |" in proc.stdout
